import net from 'node:net';
import { mkdirSync } from 'node:fs';
import { startFauxqs, type FauxqsServer } from 'fauxqs';

/**
 * Starts fauxqs (S3 + SQS emulator) in this process, bound to loopback only.
 *
 * fauxqs always listens on 0.0.0.0; for the duration of its start-up we rewrite that one address to
 * 127.0.0.1 so the emulator (which has no authentication) is never reachable from the network.
 *
 * Storage: queues persist in SQLite under `dataDir`; objects are plain files under `s3StorageDir`
 * (the SQLite object store truncates large objects). Known limit of fauxqs 2.4.1's file store:
 * objects up to ~1.9 GiB; at 2 GiB multipart completion fails with InvalidPart.
 */
export async function startLocalS3AndSqs(options: { port: number; dataDir?: string }): Promise<FauxqsServer> {
  const originalListen = net.Server.prototype.listen;
  net.Server.prototype.listen = function patchedListen(this: net.Server, ...args: unknown[]) {
    const first = args[0];
    if (first && typeof first === 'object' && (first as net.ListenOptions).host === '0.0.0.0') {
      args[0] = { ...(first as net.ListenOptions), host: '127.0.0.1' };
    }
    return (originalListen as (...inner: unknown[]) => net.Server).apply(this, args);
  } as typeof originalListen;
  try {
    if (options.dataDir) {
      mkdirSync(`${options.dataDir}/sqs`, { recursive: true });
      mkdirSync(`${options.dataDir}/s3`, { recursive: true });
    }
    return await startFauxqs({
      port: options.port,
      logger: false,
      ...(options.dataDir ? { dataDir: `${options.dataDir}/sqs`, s3StorageDir: `${options.dataDir}/s3` } : {}),
    });
  } finally {
    net.Server.prototype.listen = originalListen;
  }
}
