import type { Clock, JobQueue, Logger, PollStateStore, PollTick, ServerStore } from '../ports';

export interface ScheduleDeps {
  servers: ServerStore;
  pollState: Pick<PollStateStore, 'getMany'>;
  ticks: JobQueue<PollTick>;
  clock: Clock;
  logger: Logger;
}

/** The scheduler runs once a minute (serverless.yml) and enqueues the polls due before its next run. */
export const SCHEDULE_WINDOW_SECONDS = 60;

/**
 * Fans a once-a-minute schedule out into per-server poll ticks: for every active server, one SQS
 * message per poll due in the next `windowSeconds`, delayed (DelaySeconds) to its due time. So each
 * server keeps its own interval (5 s polls twelve times a minute) while EventBridge fires once a
 * minute, and servers are polled in parallel by independent workers. Ticks due before a backed-off
 * server's nextPollAt are not sent.
 */
export async function schedulePollTicks(deps: ScheduleDeps, windowSeconds = SCHEDULE_WINDOW_SECONDS): Promise<{ servers: number; ticks: number }> {
  const now = deps.clock.now().getTime();
  let nextToken: string | undefined;
  let servers = 0;
  let ticks = 0;
  do {
    const page = await deps.servers.list(100, nextToken);
    nextToken = page.nextToken;
    const active = page.items.filter((server) => server.active);
    if (active.length === 0) continue;
    const states = await deps.pollState.getMany(active.map((server) => server.id));
    const entries: { message: PollTick; delaySeconds: number }[] = [];
    for (const server of active) {
      const notBefore = Date.parse(states.get(server.id)?.nextPollAt ?? '') || now;
      const interval = server.pollIntervalSeconds;
      for (let offset = 0; offset < windowSeconds; offset += interval) {
        const due = now + offset * 1000;
        // Servers polled less often than the window: one tick, at their next due time, if it falls inside.
        const dueAt = interval >= windowSeconds ? Math.max(due, notBefore) : due;
        if (dueAt + 1000 < notBefore || dueAt >= now + windowSeconds * 1000) continue;
        entries.push({ message: { serverId: server.id, dueAt: new Date(dueAt).toISOString() }, delaySeconds: Math.round((dueAt - now) / 1000) });
      }
    }
    await deps.ticks.sendEntries(entries);
    servers += active.length;
    ticks += entries.length;
  } while (nextToken);
  deps.logger.info('poll_ticks_scheduled', { servers, ticks, windowSeconds });
  return { servers, ticks };
}
