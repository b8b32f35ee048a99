import type { AddressInfo } from 'node:net';
import ssh2, { type Attributes, type SFTPWrapper } from 'ssh2';
import { hostKeyFingerprint } from '../../lib/adapters/sftp-connector';

const { Server, utils } = ssh2;
const { STATUS_CODE } = utils.sftp;

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
/** Entries per READDIR answer (OpenSSH sends about 100); a long name gets a page of its own. */
const PAGE_ENTRIES = 50;
const PAGE_BYTES = 32 * 1024;

/** The SFTP requests this server serves, as `requests` names them. */
export type SftpRequestKind = 'REALPATH' | 'STAT' | 'LSTAT' | 'FSTAT' | 'OPENDIR' | 'READDIR' | 'OPEN' | 'READ' | 'CLOSE';
/** Requests the server can be told to leave unanswered; `STAT` covers LSTAT too. */
export type StallPoint = Extract<SftpRequestKind, 'OPENDIR' | 'READDIR' | 'OPEN' | 'READ' | 'STAT'>;

export interface FixtureSftpOptions {
  /** Requests of this kind are received (and logged) and never answered: the partner that hangs. */
  stallOn?: StallPoint;
  /** Reads answer at most `bytes`, each after `everyMs`: the partner that trickles. */
  trickle?: { bytes: number; everyMs: number };
  /** The login's password; a random one when not given. */
  password?: string;
}

interface FileNode {
  kind: 'file';
  content: Buffer;
  mtime: number;
}
interface DirNode {
  kind: 'dir';
  mtime: number;
  /** Children in the order READDIR lists them, by the bytes of their names. */
  children: Map<string, { nameBytes: Buffer; node: FileNode | DirNode }>;
}

export interface FixtureSftpServer {
  port: number;
  username: string;
  password: string;
  /** `SHA256:...` fingerprint of the host key. */
  hostKey: string;
  /** Adds (or replaces) a file; its directories are created. `/`-separated, absolute. */
  put(path: string, content: string | Buffer, mtime?: number): void;
  /** Adds a file whose last name is sent as these raw bytes (e.g. not UTF-8) in READDIR answers. */
  putRaw(dir: string, nameBytes: Buffer, content: string | Buffer, mtime?: number): void;
  mkdir(path: string, mtime?: number): void;
  /**
   * Every request the server received, answered or not, as `<TYPE> <path>` (paths as ssh2
   * decoded them; for a request on a handle, the path the handle was opened on).
   */
  readonly requests: string[];
  /** How many requests of this kind were received. */
  received(kind: SftpRequestKind): number;
  /** Every password a client offered, right or wrong, for any username: what a hostile server would capture. */
  readonly offeredPasswords: string[];
  /** TCP connections accepted, and logins that succeeded. */
  stats(): { logins: number; connections: number };
  /** Ends every client connection and stops pending trickled reads. */
  close(): Promise<void>;
}

/**
 * An SFTP server of our own on loopback, built on ssh2's `Server`, serving an in-memory tree: it
 * can send what a real server (OpenSSH on a sane file system) never would, such as names that
 * are not UTF-8, 200,000-byte names or control characters, to test what sluice makes of them.
 * Serves REALPATH, STAT/LSTAT/FSTAT, OPENDIR/READDIR, OPEN/READ and CLOSE; anything else is
 * answered OP_UNSUPPORTED by ssh2. It can also misbehave on purpose (`options`): leave a kind of
 * request unanswered forever, or trickle reads.
 */
/** The registration fields that reach a fixture server and trust its key (pinned). */
export function fixtureLogin(sftp: FixtureSftpServer) {
  return { host: '127.0.0.1', port: sftp.port, username: sftp.username, password: sftp.password, hostKey: sftp.hostKey };
}

export async function startFixtureSftpServer(options: FixtureSftpOptions = {}): Promise<FixtureSftpServer> {
  const { stallOn, trickle } = options;
  const username = 'fixture';
  const password = options.password ?? `pw-${Math.random().toString(36).slice(2)}`;
  const hostKey = utils.generateKeyPairSync('ed25519');
  const parsed = utils.parseKey(hostKey.private);
  if (parsed instanceof Error) throw parsed;
  const root: DirNode = { kind: 'dir', mtime: 1_700_000_000, children: new Map() };
  const requests: string[] = [];
  const offeredPasswords: string[] = [];
  let logins = 0;
  let connections = 0;
  /** Trickled answers not yet sent; cleared on close(). */
  const timers = new Set<NodeJS.Timeout>();

  const directory = (path: string, create: boolean, mtime = 1_700_000_000): DirNode | undefined => {
    let node: DirNode = root;
    for (const name of path.split('/').filter(Boolean)) {
      const key = Buffer.from(name, 'utf8').toString('hex');
      let child = node.children.get(key)?.node;
      if (!child && create) {
        child = { kind: 'dir', mtime, children: new Map() };
        node.children.set(key, { nameBytes: Buffer.from(name, 'utf8'), node: child });
      }
      if (!child || child.kind !== 'dir') return undefined;
      node = child;
    }
    return node;
  };
  const lookup = (path: string): FileNode | DirNode | undefined => {
    const cut = path.lastIndexOf('/');
    const parent = directory(path.slice(0, cut), false);
    const name = path.slice(cut + 1);
    if (name === '') return parent;
    return parent?.children.get(Buffer.from(name, 'utf8').toString('hex'))?.node;
  };
  const addFile = (dir: string, nameBytes: Buffer, content: string | Buffer, mtime: number) => {
    directory(dir, true)!.children.set(nameBytes.toString('hex'), { nameBytes, node: { kind: 'file', content: Buffer.from(content), mtime } });
  };

  const clients = new Set<ssh2.Connection>();
  const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    connections++;
    clients.add(client);
    // As a real server does; without it every round trip waits ~40 ms on Nagle and delayed ACKs.
    (client as unknown as { setNoDelay(noDelay: boolean): void }).setNoDelay(true);
    client.on('close', () => clients.delete(client));
    client.on('error', () => {});
    client.on('authentication', (context) => {
      if (context.method === 'password') offeredPasswords.push(context.password);
      if (context.method === 'password' && context.username === username && context.password === password) {
        logins++;
        context.accept();
      } else context.reject(['password']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('sftp', (acceptSftp) => serve(acceptSftp()));
      });
    });
  });

  const serve = (sftp: SFTPWrapper) => {
    type Open = { path: string } & ({ kind: 'file'; node: FileNode } | { kind: 'dir'; pages: { nameBytes: Buffer; node: FileNode | DirNode }[][] });
    const handles = new Map<string, Open>();
    let nextHandle = 0;
    const newHandle = (value: Open) => {
      const handle = Buffer.from(String(nextHandle++));
      handles.set(handle.toString(), value);
      return handle;
    };
    const attrsOf = (node: FileNode | DirNode): Attributes => ({
      mode: node.kind === 'file' ? S_IFREG | 0o644 : S_IFDIR | 0o755,
      size: node.kind === 'file' ? node.content.length : 4096,
      uid: 0,
      gid: 0,
      atime: node.mtime,
      mtime: node.mtime,
    });
    /** Logs the request; true when it is to be left unanswered. */
    const receive = (kind: SftpRequestKind, path?: string) => {
      requests.push(path === undefined ? kind : `${kind} ${path}`);
      return stallOn === kind || (stallOn === 'STAT' && kind === 'LSTAT');
    };
    const stat = (reqId: number, path: string) => {
      const node = lookup(path);
      if (node) sftp.attrs(reqId, attrsOf(node));
      else sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE);
    };
    sftp.on('REALPATH', (reqId, path) => {
      receive('REALPATH', path);
      const absolute = path.startsWith('/') ? path : `/${path === '.' ? '' : path}`;
      sftp.name(reqId, [{ filename: absolute, longname: absolute, attrs: {} as Attributes }]);
    });
    sftp.on('STAT', (reqId, path) => {
      if (!receive('STAT', path)) stat(reqId, path);
    });
    sftp.on('LSTAT', (reqId, path) => {
      if (!receive('LSTAT', path)) stat(reqId, path);
    });
    sftp.on('OPENDIR', (reqId, path) => {
      if (receive('OPENDIR', path)) return;
      const node = lookup(path);
      if (node?.kind !== 'dir') return sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE);
      const pages: { nameBytes: Buffer; node: FileNode | DirNode }[][] = [[]];
      let pageBytes = 0;
      for (const entry of node.children.values()) {
        const page = pages.at(-1)!;
        if (page.length > 0 && (page.length >= PAGE_ENTRIES || pageBytes + entry.nameBytes.length > PAGE_BYTES)) {
          pages.push([entry]);
          pageBytes = entry.nameBytes.length;
        } else {
          page.push(entry);
          pageBytes += entry.nameBytes.length;
        }
      }
      sftp.handle(reqId, newHandle({ path, kind: 'dir', pages: pages.filter((page) => page.length > 0) }));
    });
    sftp.on('READDIR', (reqId, handle) => {
      const open = handles.get(handle.toString());
      if (receive('READDIR', open?.path)) return;
      if (open?.kind !== 'dir') return sftp.status(reqId, STATUS_CODE.FAILURE);
      const page = open.pages.shift();
      if (!page) return sftp.status(reqId, STATUS_CODE.EOF);
      sendNames(sftp, reqId, page.map((entry) => ({ nameBytes: entry.nameBytes, attrs: attrsOf(entry.node) })));
    });
    sftp.on('OPEN', (reqId, path) => {
      if (receive('OPEN', path)) return;
      const node = lookup(path);
      if (node?.kind !== 'file') return sftp.status(reqId, STATUS_CODE.NO_SUCH_FILE);
      sftp.handle(reqId, newHandle({ path, kind: 'file', node }));
    });
    sftp.on('FSTAT', (reqId, handle) => {
      const open = handles.get(handle.toString());
      receive('FSTAT', open?.path);
      if (open?.kind !== 'file') return sftp.status(reqId, STATUS_CODE.FAILURE);
      sftp.attrs(reqId, attrsOf(open.node));
    });
    sftp.on('READ', (reqId, handle, offset, length) => {
      const open = handles.get(handle.toString());
      if (receive('READ', open?.path)) return;
      if (open?.kind !== 'file') return sftp.status(reqId, STATUS_CODE.FAILURE);
      if (offset >= open.node.content.length) return sftp.status(reqId, STATUS_CODE.EOF);
      const chunk = open.node.content.subarray(offset, offset + Math.min(length, trickle?.bytes ?? length));
      if (!trickle) return sftp.data(reqId, chunk);
      // ssh2 drops a write on a channel closed meanwhile, so a late answer is harmless.
      const timer = setTimeout(() => {
        timers.delete(timer);
        sftp.data(reqId, chunk);
      }, trickle.everyMs);
      timers.add(timer);
    });
    sftp.on('CLOSE', (reqId, handle) => {
      receive('CLOSE', handles.get(handle.toString())?.path);
      handles.delete(handle.toString());
      sftp.status(reqId, STATUS_CODE.OK);
    });
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    username,
    password,
    hostKey: hostKeyFingerprint(parsed.getPublicSSH()),
    put: (path, content, mtime = 1_700_000_000) => {
      const cut = path.lastIndexOf('/');
      addFile(path.slice(0, cut), Buffer.from(path.slice(cut + 1), 'utf8'), content, mtime);
    },
    putRaw: (dir, nameBytes, content, mtime = 1_700_000_000) => addFile(dir, nameBytes, content, mtime),
    mkdir: (path, mtime) => void directory(path, true, mtime),
    requests,
    received: (kind) => requests.filter((request) => request === kind || request.startsWith(`${kind} `)).length,
    offeredPasswords,
    stats: () => ({ logins, connections }),
    close: () =>
      new Promise((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        // Sessions the stack keeps warm, and requests left stalled, would hold close() open.
        for (const client of clients) client.end();
      }),
  };
}

/**
 * A NAME answer whose names are these exact bytes. ssh2's `name()` only takes strings and writes
 * them as UTF-8, so a name that is not UTF-8 goes in as a placeholder of the same byte length
 * (NULs, which no real name holds) and its bytes are copied over the placeholder's as ssh2 writes
 * the packet (synchronously, inside `name()`).
 */
function sendNames(sftp: SFTPWrapper, reqId: number, entries: { nameBytes: Buffer; attrs: Attributes }[]): void {
  const raw = new Map<string, Buffer>();
  const names = entries.map(({ nameBytes, attrs }) => {
    const text = nameBytes.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(nameBytes)) return { filename: text, longname: '', attrs };
    const placeholder = `${'\u0000'.repeat(nameBytes.length - String(raw.size).length)}${raw.size}`;
    raw.set(placeholder, nameBytes);
    return { filename: placeholder, longname: '', attrs };
  });
  type Utf8Write = (this: Buffer, text: string, offset?: number, length?: number) => number;
  const prototype = Buffer.prototype as unknown as { utf8Write: Utf8Write };
  const utf8Write = prototype.utf8Write;
  prototype.utf8Write = function (text, offset = 0, length) {
    const bytes = raw.get(text);
    return bytes ? bytes.copy(this, offset) : utf8Write.call(this, text, offset, length);
  };
  try {
    sftp.name(reqId, names);
  } finally {
    prototype.utf8Write = utf8Write;
  }
}
