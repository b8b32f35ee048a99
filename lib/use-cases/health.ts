import { errorSummary } from '../errors';
import type { Logger, ReadinessProbe } from '../ports';

export interface HealthDeps {
  probe: ReadinessProbe;
  logger: Logger;
}

/** `GET /health`: ok once the store the API needs answers; why not is logged, never shown. */
export async function readiness(deps: HealthDeps): Promise<'ok' | 'unavailable'> {
  try {
    await deps.probe.check();
    return 'ok';
  } catch (error) {
    deps.logger.warn('health_check_failed', { error: errorSummary(error) });
    return 'unavailable';
  }
}
