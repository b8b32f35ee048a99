import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { withProfileStack } from './profile-stack';
import { makeFile, MiB } from './worker';

/**
 * `tsx bench/profile-upload.ts [NAME=value,... per variant]`: one 1 GiB transfer per variant of the
 * transfer settings, over loopback SFTP and from local disk, to find where the upload's time goes.
 * A tool for changing the code; `npm run bench` is the measurement of record.
 */
const variants = process.argv.slice(2).map((arg) => Object.fromEntries(arg.split(',').filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)] as [string, string])));
await withProfileStack('profile', 2, async ({ dir, server, worker, runner }) => {
  const path = join(dir, 'one.bin');
  makeFile(path, 1024 * MiB);
  for (const variant of variants.length ? variants : [{}]) {
    for (const source of (process.env.SOURCES ?? 'local,sftp').split(',')) {
      const before = cpuByCommand();
      const result = await runner.run(worker, { JOB: JSON.stringify(await runner.jobFor(path, server, dir)) }, { ...variant, ...(source === 'local' ? { LOCAL_SOURCE: '1' } : {}) });
      const after = cpuByCommand();
      const others = Object.fromEntries([...after].map(([name, time]) => [name, Math.round(((time - (before.get(name) ?? 0)) / result.seconds) * 100)]).filter(([, share]) => Number(share) >= 3));
      console.log(JSON.stringify({ variant, source, mbps: Math.round(1024 / result.seconds), peakMiB: Math.round(result.peakMiB), cpuPercent: { worker: Math.round((result.cpuSeconds / result.seconds) * 100), ...others } }));
    }
  }
});
process.exit(0);

/** Cumulative CPU seconds of every running process, summed by command name. */
function cpuByCommand(): Map<string, number> {
  const totals = new Map<string, number>();
  for (const line of execFileSync('ps', ['-eo', 'comm=,times='], { encoding: 'utf8' }).trim().split('\n')) {
    const [name, time] = line.trim().split(/\s+/) as [string, string];
    totals.set(name, (totals.get(name) ?? 0) + Number(time));
  }
  return totals;
}
