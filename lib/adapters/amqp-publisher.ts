import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { PublishError, type PublishErrorCode } from '../errors';
import type { FileIngestedMessage, Logger, Publisher } from '../ports';
import { BrokerErrors } from './amqp-errors';
import { AmqpLinks, type Link, type Pending } from './amqp-link';
import { brokerUrlProblem, redactAmqpUrl } from './amqp-url';

// Defined beside the port and the other domain errors (the notify use case tests `instanceof PublishError`);
// re-exported so this adapter's API is complete on its own.
export { PublishError, type PublishErrorCode, type FileIngestedMessage };
export { brokerUrlProblem, redactAmqpUrl };

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

const noopLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Publishes {@link FileIngestedMessage}s to one exchange over one connection and one confirm channel,
 * opened on first use and kept across calls (a warm Lambda reuses them). A connection or channel that
 * closes for any reason is dropped, and the next publish opens a fresh pair; concurrent publishes share
 * that one attempt. `publish` resolves only once the broker has confirmed the message.
 */
export class AmqpPublisher implements Publisher {
  private readonly inflight = new Set<Promise<void>>();
  private readonly logger: Logger;
  /** The URL with its password redacted: for this adapter's log lines only, never for an error message. */
  private readonly broker: string;
  private readonly errors: BrokerErrors;
  private readonly links: AmqpLinks;

  constructor(private readonly options: AmqpPublisherOptions) {
    // Refused here, in words that quote none of it: amqplib's own errors about a malformed URL would
    // quote it, and the scrubbing below cannot find the credentials of a URL that does not parse.
    const problem = brokerUrlProblem(options.url);
    if (problem !== undefined) throw new Error(`the broker URL ${problem}`);
    this.logger = options.logger ?? noopLogger;
    this.broker = redactAmqpUrl(options.url);
    this.errors = new BrokerErrors(options);
    this.links = new AmqpLinks(options, this.errors, this.logger, this.broker);
  }

  /** Connections opened so far (diagnostics: one per broker outage, not one per publish). */
  get connectionCount(): number {
    return this.links.connectionCount;
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
    // A failed open is reported to the publishes that waited on it; closing only waits for it to end.
    await this.links.pendingOpen?.catch(() => {});
    await Promise.allSettled([...this.inflight]);
    await this.links.closeCurrent();
  }

  private async publishOnce(message: FileIngestedMessage): Promise<void> {
    const { exchange, routingKey, mandatory } = this.options;
    let link = await this.links.link();
    // Dropped while this call waited for it (another publish timed out on it): take the next one.
    if (link.discarded) link = await this.links.link();
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
        this.links.discard(link);
        settle(new PublishError('timeout', `${this.errors.context()}: no confirm within ${confirmTimeoutMs} ms`));
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
                  `${this.errors.context()}: no queue is bound to exchange "${exchange}" for routing key "${routingKey}"; the broker returned the message`,
                ),
              );
            } else settle();
          },
        );
      } catch (error) {
        // The channel closed between our check and the write (amqplib throws synchronously then).
        this.links.discard(link);
        settle(this.errors.classify(link.state.channelError ?? link.state.connectionError ?? error, 'publishing'));
      }
    });
  }

  /** A failed confirm: a nack, or the channel closed before confirming. */
  private confirmFailure(link: Link, error: unknown): PublishError {
    if (error instanceof Error && error.message === 'message nacked') {
      return new PublishError('nacked', `${this.errors.context()}: the broker nacked the message`, { cause: error });
    }
    return this.errors.classify(link.state.channelError ?? link.state.connectionError ?? error, 'awaiting the confirm');
  }
}
