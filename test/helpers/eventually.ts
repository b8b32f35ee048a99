/**
 * Waits for `check` to return something other than undefined, checking every `everyMs` until
 * `timeoutMs`; then fails naming `what` (and `context()`, e.g. the tail of a service's output).
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  options: { context?: () => string; everyMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${options.context?.() ?? ''}`);
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 250));
  }
}
