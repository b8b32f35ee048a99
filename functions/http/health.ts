import { getContainer } from '../../lib/container';
import { route } from '../../lib/http/route';
import { readiness } from '../../lib/use-cases/health';
import { httpRuntime } from './runtime';

/** Unauthenticated readiness probe: 200 once the servers table answers, 503 until then. */
export const handler = route({ authenticated: false }, httpRuntime, async () => {
  const status = await readiness(getContainer().healthDeps);
  return { status: status === 'ok' ? 200 : 503, body: { status } };
});
