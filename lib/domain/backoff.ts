/**
 * Capped exponential backoff with jitter: 1, 2, 4, ... seconds for failures 1, 2, 3, ..., never above
 * `capSeconds`, each scaled by a random factor in [0.8, 1.2) so a fleet does not retry in lockstep.
 */
export function backoffSeconds(consecutiveFailures: number, capSeconds: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, consecutiveFailures - 1);
  const base = Math.min(capSeconds, 2 ** Math.min(exponent, 30));
  return Math.min(capSeconds, base * (0.8 + 0.4 * random()));
}
