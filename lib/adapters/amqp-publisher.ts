import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { connect, type ChannelModel, type ConfirmChannel, type Message } from 'amqplib';
import { PublishError, type PublishErrorCode } from '../errors';
import { scrubUrlCredentials } from '../logger';
import type { FileIngestedMessage, Logger, Publisher } from '../ports';

// Defined beside the port and the other domain errors (the notify use case tests `instanceof PublishError`);
// re-exported so this adapter's API is complete on its own.
export { PublishError, type PublishErrorCode, type FileIngestedMessage };

export interface AmqpPublisherOptions {
  /** `amqp://` or `amqps://`, credentials in the userinfo; a `heartbeat` query parameter overrides the default 30 s. */
  url: string;
  exchange: string;
  routingKey: string;
  /** Have the broker return (and this publisher reject) a message no queue is bound to receive. */
  mandatory: boolean;
  /** Declare the exchange (durable topic) on connect; otherwise it must exist already. */
  declareExchange: boolean;
  confirmTimeoutMs?: number;
  connectTimeoutMs?: number;
  logger?: Logger;
  /** Passed to `tls.connect` for `amqps://` (ca, servername, rejectUnauthorized, client cert). */
  socketOptions?: TlsConnectionOptions;
}

const DEFAULT_CONFIRM_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const HEARTBEAT_SECONDS = 30;
/** How long a discarded connection gets to close politely before its socket is destroyed. */
const CLOSE_GRACE_MS = 1_000;

const ACCESS_REFUSED = 403;
const NOT_FOUND = 404;
const NOT_ALLOWED = 530;

/** A publish waiting for its confirm; a basic.return for it, if any, arrives before the ack. */
interface Pending {
  returned: boolean;
}

/** One connection and its confirm channel; they live and die together. */
interface Link {
  connection: ChannelModel;
  channel: ConfirmChannel;
  /** Publishes awaiting their confirm by messageId, oldest first (returns come back in publish order). */
  awaiting: Map<string, Pending[]>;
  state: {
    connectionClosed: boolean;
    connectionError?: Error;
    /** Why the broker closed the channel (404, 403 ...): the confirm callbacks only say "channel closed". */
    channelError?: Error;
  };
  /** No longer handed out; set before its connection is closed. */
  discarded: boolean;
}

const noopLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** The broker local runs use unless told otherwise: the machine's RabbitMQ with its default account. */
export const LOCAL_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

/** Why `url` cannot be the broker's URL, in words that quote none of it; undefined when it can. */
export function brokerUrlProblem(url: string): string | undefined {
  const problem = 'is not a broker URL (amqp:// or amqps:// with a host)';
  try {
    const parsed = new URL(url);
    return (parsed.protocol === 'amqp:' || parsed.protocol === 'amqps:') && parsed.hostname !== '' ? undefined : problem;
  } catch {
    return problem;
  }
}

/** The URL with its password replaced by `***`, for logs and the local banner. */
export function redactAmqpUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return scrubUrlCredentials(url);
  }
}

/**
 * Publishes {@link FileIngestedMessage}s to one exchange over one connection and one confirm channel,
 * opened on first use and kept across calls (a warm Lambda reuses them). A connection or channel that
 * closes for any reason is dropped, and the next publish opens a fresh pair; concurrent publishes share
 * that one attempt. `publish` resolves only once the broker has confirmed the message.
 */
export class AmqpPublisher implements Publisher {
  private current: Link | undefined;
  private opening: Promise<Link> | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private opened = 0;
  private readonly logger: Logger;
  /** The URL with its password redacted: for this adapter's log lines only, never for an error message. */
  private readonly broker: string;
  private readonly secrets: string[];
  private readonly peer: RegExp | undefined;

  constructor(private readonly options: AmqpPublisherOptions) {
    // Refused here, in words that quote none of it: amqplib's own errors about a malformed URL would
    // quote it, and the scrubbing below cannot find the credentials of a URL that does not parse.
    const problem = brokerUrlProblem(options.url);
    if (problem !== undefined) throw new Error(`the broker URL ${problem}`);
    this.logger = options.logger ?? noopLogger;
    this.broker = redactAmqpUrl(options.url);
    this.secrets = credentialForms(options.url);
    this.peer = peerPattern(options.url);
  }

  /** Connections opened so far (diagnostics: one per broker outage, not one per publish). */
  get connectionCount(): number {
    return this.opened;
  }

  async publish(message: FileIngestedMessage): Promise<void> {
    const attempt = this.publishOnce(message);
    this.inflight.add(attempt);
    try {
      await attempt;
    } finally {
      this.inflight.delete(attempt);
    }
  }

  /** Lets in-flight publishes settle, then closes the channel and connection; a later publish reconnects. */
  async close(): Promise<void> {
    await this.opening?.catch(() => {});
    await Promise.allSettled([...this.inflight]);
    const link = this.current;
    this.current = undefined;
    if (!link || link.discarded) return;
    link.discarded = true;
    // Closing the connection closes its channel; one handshake instead of two, bounded by the grace period.
    await closeConnection(link.connection);
  }

  private async publishOnce(message: FileIngestedMessage): Promise<void> {
    const { exchange, routingKey, mandatory } = this.options;
    let link = await this.link();
    // Dropped while this call waited for it (another publish timed out on it): take the next one.
    if (link.discarded) link = await this.link();
    const body = Buffer.from(JSON.stringify(message));
    const messageId = message.fileId;
    const pending: Pending = { returned: false };
    const queue = link.awaiting.get(messageId) ?? [];
    queue.push(pending);
    link.awaiting.set(messageId, queue);

    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: PublishError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const index = queue.indexOf(pending);
        if (index >= 0) queue.splice(index, 1);
        if (queue.length === 0 && link.awaiting.get(messageId) === queue) link.awaiting.delete(messageId);
        if (error) reject(error);
        else resolve();
      };
      const confirmTimeoutMs = this.options.confirmTimeoutMs ?? DEFAULT_CONFIRM_TIMEOUT_MS;
      const timer = setTimeout(() => {
        // A broker that stops confirming (blocked by an alarm, half-open socket) will not start again on
        // this connection: drop it so the next publish starts clean.
        this.logger.warn('amqp_confirm_timeout', { broker: this.broker, exchange, fileId: messageId, serverId: message.serverId, confirmTimeoutMs });
        this.discard(link);
        settle(new PublishError('timeout', `${this.context()}: no confirm within ${confirmTimeoutMs} ms`));
      }, confirmTimeoutMs);

      try {
        link.channel.publish(
          exchange,
          routingKey,
          body,
          {
            persistent: true,
            contentType: 'application/json',
            contentEncoding: 'utf-8',
            messageId,
            type: 'file.ingested',
            timestamp: Math.floor(Date.now() / 1000),
            mandatory,
            appId: 'sluice',
          },
          (error: unknown) => {
            if (error) settle(this.confirmFailure(link, error));
            else if (pending.returned) {
              settle(
                new PublishError(
                  'unroutable',
                  `${this.context()}: no queue is bound to exchange "${exchange}" for routing key "${routingKey}"; the broker returned the message`,
                ),
              );
            } else settle();
          },
        );
      } catch (error) {
        // The channel closed between our check and the write (amqplib throws synchronously then).
        this.discard(link);
        settle(this.classify(link.state.channelError ?? link.state.connectionError ?? error, 'publishing'));
      }
    });
  }

  /** The live link, or the one being opened (shared by every caller that arrives meanwhile). */
  private link(): Promise<Link> {
    if (this.current && !this.current.discarded) return Promise.resolve(this.current);
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async open(): Promise<Link> {
    const { exchange, declareExchange } = this.options;
    const connection = await this.connect();
    this.opened += 1;
    const state: Link['state'] = { connectionClosed: false };
    // Without an 'error' listener an error event from amqplib would crash the process.
    connection.on('error', (error: Error) => {
      state.connectionError ??= error;
    });
    connection.on('close', () => {
      state.connectionClosed = true;
    });

    let channel: ConfirmChannel;
    try {
      channel = await connection.createConfirmChannel();
    } catch (error) {
      void closeConnection(connection);
      throw this.classify(state.connectionError ?? error, 'opening a channel');
    }
    const link: Link = { connection, channel, awaiting: new Map(), state, discarded: false };
    // amqplib passes an error only when the broker or the network ended the connection, not when we did.
    connection.on('close', (error?: Error) => {
      if (error) this.logger.warn('amqp_connection_lost', { broker: this.broker, reason: this.sanitize(error.message) });
      this.discard(link);
    });
    connection.on('blocked', (reason: string) => this.logger.warn('amqp_connection_blocked', { broker: this.broker, reason }));
    connection.on('unblocked', () => this.logger.info('amqp_connection_unblocked', { broker: this.broker }));
    channel.on('error', (error: Error) => {
      state.channelError ??= error;
    });
    // The broker closing the channel (404, 403) emits 'error' first; a dying connection closes it silently.
    channel.on('close', () => {
      if (state.channelError) this.logger.warn('amqp_channel_closed', { broker: this.broker, exchange, reason: this.sanitize(state.channelError.message) });
      this.discard(link);
    });
    channel.on('return', (returned: Message) => {
      const messageId: unknown = returned.properties.messageId;
      const pending = typeof messageId === 'string' ? link.awaiting.get(messageId)?.find((entry) => !entry.returned) : undefined;
      if (pending) pending.returned = true;
    });

    try {
      if (declareExchange) await channel.assertExchange(exchange, 'topic', { durable: true });
      // A passive declare needs no permission and fails here rather than on the first message.
      else await channel.checkExchange(exchange);
    } catch (error) {
      this.discard(link);
      throw this.classify(state.channelError ?? state.connectionError ?? error, 'opening a channel');
    }
    if (link.discarded) throw this.classify(state.connectionError ?? new Error('connection closed'), 'opening a channel');
    this.current = link;
    this.logger.info('amqp_connected', { broker: this.broker, exchange, connection: this.opened });
    return link;
  }

  private async connect(): Promise<ChannelModel> {
    const timeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const attempt = connect(withHeartbeat(this.options.url, HEARTBEAT_SECONDS), {
      ...this.options.socketOptions,
      // amqplib applies this to the socket until the AMQP handshake completes.
      timeout: timeoutMs,
      noDelay: true,
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs + 500);
    });
    try {
      return await Promise.race([attempt, deadline]);
    } catch (error) {
      // A connection that completes after we gave up must not linger.
      attempt.then((late) => late.close()).catch(() => {});
      throw this.classify(error, 'connecting');
    } finally {
      clearTimeout(timer);
    }
  }

  /** Forgets the link (the next publish opens a new one) and closes what is left of it. */
  private discard(link: Link): void {
    if (this.current === link) this.current = undefined;
    if (link.discarded) return;
    link.discarded = true;
    // Deferred: this runs inside amqplib's close handling, where the connection is mid-teardown.
    setImmediate(() => {
      if (!link.state.connectionClosed) void closeConnection(link.connection);
    });
  }

  /** A failed confirm: a nack, or the channel closed before confirming. */
  private confirmFailure(link: Link, error: unknown): PublishError {
    if (error instanceof Error && error.message === 'message nacked') {
      return new PublishError('nacked', `${this.context()}: the broker nacked the message`, { cause: error });
    }
    return this.classify(link.state.channelError ?? link.state.connectionError ?? error, 'awaiting the confirm');
  }

  /** Maps an amqplib or socket failure to a code; `during` says what was under way. */
  private classify(error: unknown, during: string): PublishError {
    if (error instanceof PublishError) return error;
    const { exchange } = this.options;
    const details = error as { message?: unknown; code?: unknown };
    const reason = this.sanitize(String(details.message ?? error));
    const cause = this.sanitizedCause(error, reason);
    const code = details.code;
    if (code === NOT_FOUND && /no exchange/i.test(reason)) {
      return new PublishError('exchange_missing', `${this.context()}: exchange "${exchange}" does not exist (${reason})`, { cause });
    }
    if (code === ACCESS_REFUSED || code === NOT_ALLOWED || /ACCESS[-_]REFUSED|NOT[-_]ALLOWED/.test(reason)) {
      return new PublishError('access_refused', `${this.context()}: access refused (${reason})`, { cause });
    }
    // Credentials accepted, then connection.open answered with a close: amqplib drops the reply code, but
    // RabbitMQ does this for a virtual host that is missing or that the user may not use (530 NOT_ALLOWED).
    if (/Expected ConnectionOpenOk; got <ConnectionClose/.test(reason)) {
      return new PublishError(
        'access_refused',
        `${this.context()}: the broker refused virtual host "${virtualHost(this.options.url)}" (missing, or the user has no access to it)`,
        { cause },
      );
    }
    return new PublishError('broker_unavailable', `${this.context()}: broker unavailable while ${during} (${reason})`, { cause });
  }

  /**
   * Error messages end up in a file's `lastError` (the files API): they say "the broker", never its
   * URL, host or user, all of which come from the broker secret. This adapter's log lines name it.
   */
  private context(): string {
    return `publish to exchange "${this.options.exchange}" on the broker`;
  }

  /**
   * amqplib and socket messages may quote the URL, the peer (`connect ECONNREFUSED 10.0.0.5:5672`,
   * `getaddrinfo ENOTFOUND mq.example`) or, in a frame dump, the credentials: remove all of them.
   */
  private sanitize(text: string): string {
    let clean = scrubUrlCredentials(text);
    for (const secret of this.secrets) clean = clean.split(secret).join('***');
    if (this.peer) clean = clean.replace(this.peer, 'the broker');
    return clean.replace(IPV4_PEER, 'the broker').replace(IPV6_CANDIDATE, (match) => (isIpv6Peer(match) ? 'the broker' : match));
  }

  /** The original error, rebuilt without credentials, so logging `cause` cannot leak them either. */
  private sanitizedCause(error: unknown, message: string): Error {
    const original = error as { name?: unknown; code?: unknown; stack?: unknown };
    const copy = new Error(message) as Error & { code?: unknown };
    if (typeof original.name === 'string') copy.name = original.name;
    if (original.code !== undefined) copy.code = original.code;
    if (typeof original.stack === 'string') copy.stack = this.sanitize(original.stack);
    return copy;
  }
}

/** Adds `heartbeat` unless the URL sets its own: it bounds how long a dead peer goes unnoticed. */
function withHeartbeat(url: string, seconds: number): string {
  try {
    const parsed = new URL(url);
    if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(seconds));
    return parsed.toString();
  } catch {
    return url; // amqplib reports the malformed URL itself
  }
}

function virtualHost(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.slice(1)) || '/';
  } catch {
    return '/';
  }
}

/**
 * The password and user name as written in the URL and decoded. Shorter than 4 characters they are
 * left alone: replacing them everywhere would garble messages without protecting anything.
 */
function credentialForms(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const forms = [parsed.password, parsed.username].flatMap((raw) => {
    try {
      return [raw, decodeURIComponent(raw)];
    } catch {
      return [raw]; // keep the raw form
    }
  });
  return [...new Set(forms)].filter((secret) => secret.length >= 4).sort((a, b) => b.length - a.length);
}

/** Any IPv4 address, with its port if given: a resolved broker address need not be the URL's host. */
const IPV4_PEER = /(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?!\w|\.\d)/g;

/** Runs of hex digits and colons; those that are IPv6 addresses (with a port, perhaps) are told apart by isIpv6Peer. */
const IPV6_CANDIDATE = /(?<![\w:.])\[?[0-9a-f]*:[0-9a-f:]*\]?(?::\d{1,5})?(?![\w:]|\.\w)/gi;

/** A compressed (`::`) or full (7 colons) IPv6 address; `12:34:56` and `a:b` are left alone. */
function isIpv6Peer(text: string): boolean {
  return text.includes('::') || text.split(':').length > 7;
}

/** The URL's host (IPv6 with or without brackets), with its port if given, as a whole word. */
function peerPattern(url: string): RegExp | undefined {
  let hostname: string;
  try {
    hostname = new URL(url).hostname;
  } catch {
    return undefined;
  }
  const forms = [...new Set([hostname, hostname.replace(/^\[|\]$/g, '')])].filter(Boolean);
  if (forms.length === 0) return undefined;
  const escaped = forms.map((form) => form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  return new RegExp(`(?<![\\w.-])(?:${escaped})(?::\\d{1,5})?(?![\\w-]|\\.\\w)`, 'gi');
}

/** Closes politely, but never waits on an unresponsive broker: after a grace period the socket is destroyed. */
async function closeConnection(connection: ChannelModel): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS);
  });
  const outcome = await Promise.race([connection.close().then(() => 'closed' as const, () => 'closed' as const), grace]);
  clearTimeout(timer);
  if (outcome === 'late') {
    (connection as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }
}
