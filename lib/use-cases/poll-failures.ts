import { backoffSeconds } from '../domain/backoff';
import type { ServerRecord } from '../domain/server';
import { ExternalError } from '../errors';
import type { PollState } from '../ports';
import type { PollDeps, PollResult } from './poll';

/**
 * A failed poll, recorded on the server: its lastError (the message of a known failure, a generic
 * one otherwise), one more consecutive failure, the next poll after a capped backoff (its own tick
 * when that comes before the regular one), counted and logged.
 */
export async function recordPollFailure(
  server: ServerRecord,
  state: PollState,
  startedAt: Date,
  error: unknown,
  deps: PollDeps,
): Promise<PollResult> {
  // A corrupt secret is the operator's to fix, like a refused password: shown as it is (its message quotes none of the value).
  const known = error instanceof ExternalError;
  const code = known ? error.code : 'internal';
  const message = known ? error.message : 'unexpected error while polling (see the poller log)';
  const failures = state.consecutiveFailures + 1;
  const delaySeconds = backoffSeconds(failures, deps.backoffCapSeconds, deps.random);
  const nextPollAt = new Date(startedAt.getTime() + delaySeconds * 1000);
  deps.metrics?.pollFailed(code, failures);
  deps.logger.warn('poll_failed', {
    serverId: server.id,
    serverName: server.name,
    code,
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    consecutiveFailures: failures,
    retryInSeconds: Math.round(delaySeconds * 10) / 10,
  });
  await deps.pollState.finish(server.id, deps.instanceId, {
    lastPollAt: startedAt.toISOString(),
    lastError: { code, message, at: startedAt.toISOString() },
    consecutiveFailures: failures,
    nextPollAt: nextPollAt.toISOString(),
  });
  // Backoff shorter than the regular interval needs its own tick; longer backoff just skips ticks.
  if (delaySeconds < server.pollIntervalSeconds) {
    await deps.ticks
      .sendEntries([{ message: { serverId: server.id, dueAt: nextPollAt.toISOString() }, delaySeconds: Math.ceil(delaySeconds) }])
      .catch((sendError: unknown) => deps.logger.warn('retry_tick_failed', { serverId: server.id, error: String(sendError) }));
  }
  return { status: 'failed', code, retryInSeconds: delaySeconds };
}
