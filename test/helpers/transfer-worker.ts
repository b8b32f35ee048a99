import { readFileSync } from 'node:fs';
import { loadConfig } from '../../lib/config';
import { buildContainer } from '../../lib/container';
import type { TransferJob } from '../../lib/ports';
import { transferFile } from '../../lib/use-cases/transfer';

/** A transfer worker in its own process, so a test can SIGKILL it mid-transfer. */
const container = buildContainer(loadConfig(process.env));
const job = JSON.parse(process.env.JOB ?? '{}') as TransferJob;
transferFile(job, container.transferDeps).then(
  (outcome) => {
    const memory = process.memoryUsage();
    const report = process.env.REPORT_RSS
      ? { maxRssKiB: peakRssKiB(), heapUsedMiB: Math.round(memory.heapUsed / 2 ** 20), externalMiB: Math.round(memory.external / 2 ** 20), arrayBuffersMiB: Math.round(memory.arrayBuffers / 2 ** 20) }
      : {};
    console.log(JSON.stringify({ ...outcome, ...report }));
    process.exit(outcome.status === 'uploaded' || !process.env.REPORT_RSS ? 0 : 1);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

/**
 * This process's own peak RSS (VmHWM). Not `resourceUsage().maxRSS`: Linux carries a parent's
 * high-water mark across fork and exec, so a child of a big process would report its parent's peak.
 */
function peakRssKiB(): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? Number.NaN);
}
