import { fingerprint, type ListedFile } from './file-identity';

/**
 * What a server's previous poll saw, compactly: fingerprints of file versions already handed to the
 * ledger (`taken`), and of versions seen but not yet stable (`candidates`, with when they were first
 * seen in that exact size/mtime, epoch seconds). Only differences against it touch the ledger, so an
 * unchanged directory costs no per-file requests.
 */
export interface Snapshot {
  taken: Set<bigint>;
  candidates: Map<bigint, number>;
}

export const emptySnapshot = (): Snapshot => ({ taken: new Set(), candidates: new Map() });

export type Observation =
  | { status: 'unchanged' }
  | { status: 'waiting' }
  /** Stable: unchanged across two listings and for at least stableAfterSeconds. Take it, then call `taken` or `retryLater`. */
  | { status: 'ready'; fingerprint: bigint; firstSeen: number };

/**
 * Compares one listing with the previous snapshot, entry by entry, without holding the listing.
 * A version becomes ready only when the previous listing saw the same (path, size, mtime) and it has
 * been unchanged for `stableAfterSeconds`: a growing file, or one whose uploader preserves the mtime
 * while writing, changes size between listings and keeps waiting.
 */
export class SnapshotDiff {
  private readonly nextTaken = new Set<bigint>();
  private readonly nextCandidates = new Map<bigint, number>();
  private changedFlag = false;

  constructor(
    private readonly previous: Snapshot,
    private readonly nowSeconds: number,
    private readonly stableAfterSeconds: number,
  ) {}

  observe(file: ListedFile): Observation {
    const print = fingerprint(file);
    if (this.previous.taken.has(print)) {
      this.nextTaken.add(print);
      return { status: 'unchanged' };
    }
    const firstSeen = this.previous.candidates.get(print);
    if (firstSeen !== undefined && this.nowSeconds - firstSeen >= this.stableAfterSeconds) {
      return { status: 'ready', fingerprint: print, firstSeen };
    }
    this.nextCandidates.set(print, firstSeen ?? this.nowSeconds);
    if (firstSeen === undefined) this.changedFlag = true;
    return { status: 'waiting' };
  }

  /** The ready version is in the ledger (created now or earlier): never look at it again. */
  taken(print: bigint): void {
    this.nextTaken.add(print);
    this.changedFlag = true;
  }

  /** Taking the ready version failed: keep it as a candidate so the next poll tries again. */
  retryLater(print: bigint, firstSeen: number): void {
    this.nextCandidates.set(print, firstSeen);
  }

  /** The snapshot to store for the next poll: only what this listing saw. */
  next(): Snapshot {
    return { taken: this.nextTaken, candidates: this.nextCandidates };
  }

  /** Whether `next()` differs from the previous snapshot (files appeared, were taken or vanished). */
  get changed(): boolean {
    return (
      this.changedFlag ||
      this.nextTaken.size !== this.previous.taken.size ||
      this.nextCandidates.size !== this.previous.candidates.size
    );
  }
}

/** 8 bytes per taken fingerprint, then 12 per candidate (fingerprint + first-seen seconds). */
export function encodeSnapshot(snapshot: Snapshot): Buffer {
  const buffer = Buffer.alloc(8 + snapshot.taken.size * 8 + snapshot.candidates.size * 12);
  buffer.writeUInt32BE(snapshot.taken.size, 0);
  buffer.writeUInt32BE(snapshot.candidates.size, 4);
  let offset = 8;
  for (const print of snapshot.taken) {
    buffer.writeBigUInt64BE(print, offset);
    offset += 8;
  }
  for (const [print, firstSeen] of snapshot.candidates) {
    buffer.writeBigUInt64BE(print, offset);
    buffer.writeUInt32BE(firstSeen >>> 0, offset + 8);
    offset += 12;
  }
  return buffer;
}

export function decodeSnapshot(buffer: Buffer): Snapshot {
  if (buffer.length < 8) return emptySnapshot();
  const takenCount = buffer.readUInt32BE(0);
  const candidateCount = buffer.readUInt32BE(4);
  if (buffer.length !== 8 + takenCount * 8 + candidateCount * 12) throw new Error('corrupt poll snapshot');
  const snapshot = emptySnapshot();
  let offset = 8;
  for (let index = 0; index < takenCount; index++, offset += 8) snapshot.taken.add(buffer.readBigUInt64BE(offset));
  for (let index = 0; index < candidateCount; index++, offset += 12) {
    snapshot.candidates.set(buffer.readBigUInt64BE(offset), buffer.readUInt32BE(offset + 8));
  }
  return snapshot;
}
