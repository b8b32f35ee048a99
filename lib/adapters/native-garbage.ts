import { setFlagsFromString } from 'node:v8';

const MAJOR_EVERY = 64;

type Collect = (options?: { type?: 'major' | 'minor' }) => void;

/**
 * Reading at wire speed, ssh2 leaves two native buffers per 32 KiB SSH packet behind (the socket
 * chunk and the decrypted packet), about 1 GB/s of garbage outside the JS heap, while allocating
 * little on it. V8 collects its young generation only when the JS side fills it, so tens of MiB of
 * dead buffers sat in the transfer's RSS between collections (measured reading 2 GiB alone: 139 MiB
 * peak; 112 MiB with a young collection every 4 MiB and the prompt sweeping below). The few objects that outlive a young
 * collection (per-packet decipher contexts among them) hold native memory V8 does not see, and
 * with so little JS allocation no full collection ever ran during a transfer: RSS crept ~30 MiB
 * over 4 GiB. Every `MAJOR_EVERY`th collection is therefore a full one (~10 ms per 256 MiB read).
 *
 * With `--expose-gc` (the transfer function's NODE_OPTIONS) the reader calls `account` per chunk;
 * without it this costs nothing and does nothing.
 */
export class YoungGarbageCollector {
  private sinceLast = 0;
  private collections = 0;

  constructor(
    private readonly everyBytes: number,
    private readonly collect: Collect | undefined = (globalThis as { gc?: Collect }).gc,
  ) {}

  account(bytes: number): void {
    if (!this.collect) return;
    this.sinceLast += bytes;
    if (this.sinceLast < this.everyBytes) return;
    this.sinceLast = 0;
    this.collections++;
    this.collect({ type: this.collections % MAJOR_EVERY === 0 ? 'major' : 'minor' });
  }
}

/**
 * Frees dead ArrayBuffers' memory during the collection itself rather than later on a background
 * thread, so the memory a young collection finds is back before the next packets arrive. Node refuses
 * this flag in NODE_OPTIONS, hence set here, once, before any transfer starts.
 */
export function sweepArrayBuffersPromptly(): void {
  setFlagsFromString('--no-concurrent-array-buffer-sweeping');
}
