import type { Client } from 'ssh2';
import { SftpError } from '../errors';

/** Waits for `promise`, but no longer than `ms`. */
export function settleWithin(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}

/** `promise`, or the error `onTimeout` makes once `ms` passed without it settling. */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** The stall watchdog of one SFTP connection: every request of its session is awaited through it. */
export class RequestWatchdog {
  /**
   * Rejects once the connection is closed. ssh2 never answers a request issued on (or left pending
   * by) a connection that closed in some states, so every request races this instead of waiting forever.
   */
  private readonly lost: Promise<never>;

  constructor(
    private readonly connection: Client,
    readonly requestTimeoutMs: number,
  ) {
    this.lost = new Promise<never>((_, reject) => {
      connection.once('close', () => reject(this.abortedWith ?? new SftpError('connection_lost', 'the SFTP connection closed')));
    });
    // Observed through the races below; unobserved it is no error.
    this.lost.catch(() => {});
  }

  /** Why the session was aborted, if it was: what every request in flight then fails with. */
  private abortedWith: Error | undefined;

  abort(reason: Error): void {
    this.abortedWith ??= reason;
    this.connection.destroy();
  }

  /** When the server last answered any request of this session (the stall watchdog's clock). */
  private lastAnswerAt = performance.now();
  readonly noteAnswer = () => {
    this.lastAnswerAt = performance.now();
  };

  /**
   * The request's answer; a connection_lost SftpError once the connection is gone; a timeout
   * SftpError once the server has answered nothing at all for the request deadline while it was
   * outstanding. A slow server that keeps answering (a pipelined read on a slow link) is not
   * stalled; one that stops is, and its connection is then destroyed: a late answer must never be
   * taken for another request's, and every other request on it fails at once instead of waiting.
   */
  answered<T>(request: Promise<T>, what: string): Promise<T> {
    const issuedAt = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      const check = () => {
        const quietMs = performance.now() - Math.max(issuedAt, this.lastAnswerAt);
        if (quietMs < this.requestTimeoutMs) {
          timer = setTimeout(check, this.requestTimeoutMs - quietMs);
          return;
        }
        reject(new SftpError('timeout', `${what}: the server answered nothing for ${Math.round(this.requestTimeoutMs / 1000)} s`));
        this.connection.destroy();
      };
      timer = setTimeout(check, this.requestTimeoutMs);
    });
    const answer = request.finally(this.noteAnswer);
    return Promise.race([answer, this.lost, stalled]).finally(() => clearTimeout(timer));
  }
}
