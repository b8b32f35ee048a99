import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { connect, type ChannelModel, type ConfirmChannel, type Message } from 'amqplib';
import type { Logger } from '../ports';
import type { BrokerErrors } from './amqp-errors';
import { withHeartbeat } from './amqp-url';

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const HEARTBEAT_SECONDS = 30;
/** How long a discarded connection gets to close politely before its socket is destroyed. */
const CLOSE_GRACE_MS = 1_000;

/** A publish waiting for its confirm; a basic.return for it, if any, arrives before the ack. */
export interface Pending {
  returned: boolean;
}

/** One connection and its confirm channel; they live and die together. */
export interface Link {
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

export interface LinkOptions {
  url: string;
  exchange: string;
  declareExchange: boolean;
  connectTimeoutMs?: number;
  socketOptions?: TlsConnectionOptions;
}

/**
 * Keeps the one live link to the broker: opened on first use, shared by every caller that arrives
 * while it opens, dropped when its connection or channel closes (the next caller then opens a fresh one).
 */
export class AmqpLinks {
  private current: Link | undefined;
  private opening: Promise<Link> | undefined;
  private opened = 0;

  constructor(
    private readonly options: LinkOptions,
    private readonly errors: BrokerErrors,
    private readonly logger: Logger,
    /** The URL with its password redacted: for log lines only, never for an error message. */
    private readonly broker: string,
  ) {}

  /** Connections opened so far (diagnostics: one per broker outage, not one per publish). */
  get connectionCount(): number {
    return this.opened;
  }

  /** The open under way, if any. */
  get pendingOpen(): Promise<Link> | undefined {
    return this.opening;
  }

  /** The live link, or the one being opened (shared by every caller that arrives meanwhile). */
  link(): Promise<Link> {
    if (this.current && !this.current.discarded) return Promise.resolve(this.current);
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  /** Closes the live link, if any; a later `link()` opens a new one. */
  async closeCurrent(): Promise<void> {
    const link = this.current;
    this.current = undefined;
    if (!link || link.discarded) return;
    link.discarded = true;
    // Closing the connection closes its channel; one handshake instead of two, bounded by the grace period.
    await closeConnection(link.connection);
  }

  /** Forgets the link (the next publish opens a new one) and closes what is left of it. */
  discard(link: Link): void {
    if (this.current === link) this.current = undefined;
    if (link.discarded) return;
    link.discarded = true;
    // Deferred: this runs inside amqplib's close handling, where the connection is mid-teardown.
    setImmediate(() => {
      if (!link.state.connectionClosed) void closeConnection(link.connection);
    });
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
      throw this.errors.classify(state.connectionError ?? error, 'opening a channel');
    }
    const link: Link = { connection, channel, awaiting: new Map(), state, discarded: false };
    // amqplib passes an error only when the broker or the network ended the connection, not when we did.
    connection.on('close', (error?: Error) => {
      if (error) this.logger.warn('amqp_connection_lost', { broker: this.broker, reason: this.errors.sanitize(error.message) });
      this.discard(link);
    });
    connection.on('blocked', (reason: string) => this.logger.warn('amqp_connection_blocked', { broker: this.broker, reason }));
    connection.on('unblocked', () => this.logger.info('amqp_connection_unblocked', { broker: this.broker }));
    channel.on('error', (error: Error) => {
      state.channelError ??= error;
    });
    // The broker closing the channel (404, 403) emits 'error' first; a dying connection closes it silently.
    channel.on('close', () => {
      if (state.channelError) this.logger.warn('amqp_channel_closed', { broker: this.broker, exchange, reason: this.errors.sanitize(state.channelError.message) });
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
      throw this.errors.classify(state.channelError ?? state.connectionError ?? error, 'opening a channel');
    }
    if (link.discarded) throw this.errors.classify(state.connectionError ?? new Error('connection closed'), 'opening a channel');
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
      // A connection that completes after we gave up must not linger. The attempt's own failure is
      // the one thrown below, and close() fails only on a connection that is closing or closed already.
      attempt.then((late) => late.close()).catch(() => {});
      throw this.errors.classify(error, 'connecting');
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Closes politely, but never waits on an unresponsive broker: after a grace period the socket is destroyed. */
async function closeConnection(connection: ChannelModel): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS);
  });
  // close() fails only on a connection that is closing or closed already.
  const outcome = await Promise.race([connection.close().then(() => 'closed' as const, () => 'closed' as const), grace]);
  clearTimeout(timer);
  if (outcome === 'late') {
    (connection as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }
}
