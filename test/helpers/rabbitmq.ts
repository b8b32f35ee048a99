import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as amqpConnect, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { LOCAL_AMQP_URL } from '../../lib/amqp-defaults';
import { freePort, waitForPort } from '../../scripts/fixtures/sshd';

/** The RabbitMQ every test may use (never stopped by tests); per-test exchanges keep them apart. */
export const SHARED_AMQP_URL = process.env.SLUICE_TEST_AMQP_URL ?? LOCAL_AMQP_URL;

const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

export interface PrivateRabbitMq {
  /** `amqp://guest:guest@127.0.0.1:<port>` */
  url: string;
  port: number;
  /** `amqps://guest:guest@127.0.0.1:<tlsPort>`; the certificate is valid for 127.0.0.1 and localhost. */
  tlsUrl?: string;
  tlsPort?: number;
  /** The CA that signed the server certificate: pass as `ca` in the TLS socket options. */
  caPem?: string;
  /** Stops the broker process (SIGTERM: a clean shutdown that closes client connections; SIGKILL: a crash). */
  stop(options?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
  /** Starts it again on the same ports and data directory, so durable queues and messages survive. */
  start(): Promise<void>;
  /** Kills every process it started and removes its directory. Safe to call twice. */
  dispose(): Promise<void>;
}

/** Process groups this module started, killed on exit if a test run dies without disposing them. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (child.pid === undefined) return;
  liveGroups.add(child.pid);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const group of liveGroups) killGroup(group, 'SIGKILL');
    });
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/** Waits until no process of the group is left (beam.smp, erl_child_setup, inet_gethost ...). */
async function waitForGroupExit(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pgid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  liveGroups.delete(pgid);
  return true;
}

/** A CA and a server certificate for 127.0.0.1/localhost (EC P-256, valid two days), written into `dir`. */
function generateCertificates(dir: string): { ca: string; cert: string; key: string } {
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...newKey, '-keyout', path('ca.key'), '-out', path('ca.pem'), '-days', '2', '-subj', '/CN=sluice-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', ...newKey, '-keyout', path('server.key'), '-out', path('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(
    path('server.ext'),
    [
      'subjectAltName = DNS:localhost, IP:127.0.0.1',
      'extendedKeyUsage = serverAuth',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      '',
    ].join('\n'),
  );
  openssl('x509', '-req', '-in', path('server.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca.key'), '-CAcreateserial',
    '-out', path('server.pem'), '-days', '2', '-extfile', path('server.ext'));
  return { ca: path('ca.pem'), cert: path('server.pem'), key: path('server.key') };
}

/** Polls until an AMQP handshake succeeds: the TCP listener opens a little before the broker serves. */
async function waitForBroker(url: string, deadline: number): Promise<void> {
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const connection = await amqpConnect(url, { timeout: 2_000 });
      connection.on('error', () => {});
      await connection.close();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`broker did not accept AMQP connections: ${String(lastError)}`);
}

/**
 * A private RabbitMQ node (the Debian rabbitmq-server package) for tests that stop, restart or
 * reconfigure a broker, which the shared one must never be. Everything it owns lives in a temporary
 * directory; it listens on 127.0.0.1 only, on free ports, with its own epmd on a free port (the
 * system epmd and the shared node are untouched). Start-up takes about 5-7 s, a clean stop about 1 s.
 * `tls: true` adds a TLS listener with a freshly generated CA (`caPem`).
 */
export async function startRabbitMq(options: { tls?: boolean } = {}): Promise<PrivateRabbitMq> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rabbitmq-'));
  const [port, distPort, epmdPort, tlsPort] = await Promise.all([freePort(), freePort(), freePort(), options.tls ? freePort() : undefined]);
  const nodeName = `sluice-test-${randomBytes(4).toString('hex')}@localhost`;
  for (const sub of ['mnesia', 'log', 'home']) mkdirSync(join(dir, sub));
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(join(dir, 'rabbitmq-env.conf'), '');

  const config = [
    `listeners.tcp.default = 127.0.0.1:${port}`,
    'log.file = false',
    'log.console = true',
    'log.console.level = warning',
    'disk_free_limit.absolute = 10MB',
  ];
  let caPem: string | undefined;
  if (tlsPort !== undefined) {
    const files = generateCertificates(dir);
    caPem = readFileSync(files.ca, 'utf8');
    config.push(
      `listeners.ssl.default = 127.0.0.1:${tlsPort}`,
      `ssl_options.cacertfile = ${files.ca}`,
      `ssl_options.certfile = ${files.cert}`,
      `ssl_options.keyfile = ${files.key}`,
      'ssl_options.verify = verify_none',
      'ssl_options.fail_if_no_peer_cert = false',
    );
  }
  writeFileSync(join(dir, 'rabbitmq.conf'), `${config.join('\n')}\n`);

  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    LANG: 'C.UTF-8',
    HOME: join(dir, 'home'), // the Erlang cookie goes here
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins-expand'),
    RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
    ERL_EPMD_PORT: String(epmdPort),
    // Our own epmd (below); distribution bound to loopback like everything else.
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}',
  };
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  const logFile = join(dir, 'server.log');

  const epmd = spawn('epmd', ['-port', String(epmdPort), '-address', '127.0.0.1'], { detached: true, stdio: 'ignore', env });
  track(epmd);
  let server: ChildProcess | undefined;

  const stop = async ({ signal = 'SIGTERM' }: { signal?: 'SIGTERM' | 'SIGKILL' } = {}) => {
    const pgid = server?.pid;
    server = undefined;
    if (pgid === undefined || !groupAlive(pgid)) return;
    // SIGTERM reaches the wrapper script, which stops the node cleanly; SIGKILL takes the whole group down at once.
    if (signal === 'SIGKILL') killGroup(pgid, 'SIGKILL');
    else process.kill(pgid, 'SIGTERM');
    if (!(await waitForGroupExit(pgid, STOP_TIMEOUT_MS))) {
      killGroup(pgid, 'SIGKILL');
      await waitForGroupExit(pgid, 5_000);
    }
  };

  const start = async () => {
    if (server) throw new Error('the private broker is already running');
    const deadline = Date.now() + START_TIMEOUT_MS;
    const out = openSync(logFile, 'a');
    // Its own process group, so stop and dispose reach beam.smp and the helpers it forks.
    const child = spawn(RABBITMQ_SERVER, [], { detached: true, stdio: ['ignore', out, out], env, cwd: dir });
    closeSync(out);
    track(child);
    server = child;
    try {
      await waitForPort(port, START_TIMEOUT_MS);
      await waitForBroker(url, deadline);
      if (tlsPort !== undefined) await waitForPort(tlsPort, Math.max(1_000, deadline - Date.now()));
    } catch (error) {
      await stop({ signal: 'SIGKILL' });
      const log = readFileSync(logFile, 'utf8').slice(-4_000);
      throw new Error(`private RabbitMQ did not start: ${String(error)}\n${log}`);
    }
  };

  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    await stop({ signal: 'SIGKILL' });
    if (epmd.pid !== undefined) {
      killGroup(epmd.pid, 'SIGKILL');
      await waitForGroupExit(epmd.pid, 5_000);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitForPort(epmdPort, 5_000);
    await start();
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    url,
    port,
    ...(tlsPort !== undefined ? { tlsUrl: `amqps://guest:guest@127.0.0.1:${tlsPort}`, tlsPort, caPem } : {}),
    stop,
    start,
    dispose,
  };
}

/**
 * A queue of the test's own bound to the stack's exchange for file.ingested (the stack publishes
 * with `mandatory`, so without a bound queue nothing reaches `notified`); each delivery goes to
 * `onMessage`. Close the returned connection when done.
 */
export async function bindIngestedQueue(onMessage: (message: ConsumeMessage) => void = () => {}): Promise<ChannelModel> {
  const broker = await amqpConnect(SHARED_AMQP_URL);
  const channel = await broker.createChannel();
  await channel.assertExchange('sluice', 'topic', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, 'sluice', 'file.ingested');
  await channel.consume(queue, (message) => message && onMessage(message), { noAck: true });
  return broker;
}
