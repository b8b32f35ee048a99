import { SftpError } from '../errors';

/** How much of a server one poll may list (POLL_MAX_ENTRIES, POLL_MAX_DEPTH). */
export interface ListingBounds {
  /** Directory entries read, files and directories alike (`.` and `..` aside). */
  maxEntries: number;
  /** Directory levels below remoteDir a recursive listing descends (a file in remoteDir is at 0). */
  maxDepth: number;
  /**
   * The whole listing's deadline: a server answering every request just inside the request
   * deadline could otherwise stretch one listing past the poll's lease.
   */
  maxSeconds: number;
}

/**
 * Counts one listing against its bounds and throws, at the first entry past one, a SftpError
 * `listing_too_large`: the poll fails (counted in consecutiveFailures, backed off) without taking
 * any file of that listing; trying again helps once the directory shrinks or the bound is raised.
 * Messages name only remoteDir (the operator's), never a name the server sent.
 */
export class ListingBudget {
  private entries = 0;
  private readonly startedAt = Date.now();

  constructor(
    private readonly bounds: ListingBounds,
    /** The listed directory (remoteDir), for the message. */
    private readonly dir: string,
  ) {}

  /** A page arrived: throws a `timeout` SftpError once the listing has taken longer than allowed. */
  checkTime(): void {
    if (Date.now() - this.startedAt > this.bounds.maxSeconds * 1000) {
      throw new SftpError('timeout', `listing ${this.dir}: not finished within ${this.bounds.maxSeconds} s (POLL_LISTING_TIMEOUT_SECONDS)`);
    }
  }

  /** One more directory entry was read. */
  countEntry(): void {
    if (++this.entries > this.bounds.maxEntries) {
      throw new SftpError('listing_too_large', `listing ${this.dir}: more than ${this.bounds.maxEntries} directory entries (POLL_MAX_ENTRIES)`);
    }
  }

  /** The listing is about to descend into a directory `depth` levels below the listed one. */
  descend(depth: number): void {
    if (depth > this.bounds.maxDepth) {
      throw new SftpError('listing_too_large', `listing ${this.dir}: directories nested more than ${this.bounds.maxDepth} levels deep (POLL_MAX_DEPTH)`);
    }
  }
}
