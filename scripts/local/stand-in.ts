import { parseArgs } from 'node:util';
import { startLocalS3AndSqs } from './fauxqs';
import { startSecretsManager } from './secrets-manager';

/**
 * Entry point of a stand-in's own process (see startStandIn):
 *   stand-in.ts fauxqs --port 4566 [--data-dir DIR]
 *   stand-in.ts secrets-manager --port 4584 [--state-file FILE]
 * Stops cleanly on SIGTERM or SIGINT.
 */
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { port: { type: 'string' }, 'data-dir': { type: 'string' }, 'state-file': { type: 'string' } },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port <= 0) throw new Error('--port is required');

const server =
  positionals[0] === 'fauxqs'
    ? await startLocalS3AndSqs({ port, ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}) })
    : positionals[0] === 'secrets-manager'
      ? await startSecretsManager({ port, ...(values['state-file'] ? { stateFile: values['state-file'] } : {}) })
      : undefined;
if (!server) throw new Error(`unknown stand-in ${positionals[0]}`);

const stop = () => {
  void Promise.resolve(server.stop()).finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
