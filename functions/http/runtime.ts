import { getContainer } from '../../lib/container';
import { secretString } from '../../lib/adapters/secret-string';
import type { RouteRuntime } from '../../lib/http/route';

let runtime: RouteRuntime | undefined;

// Parse configuration at cold start so a bad variable fails the init, named, before any request.
getContainer();

/** Route runtime built from the container once per cold start. */
export function httpRuntime(): RouteRuntime {
  if (runtime) return runtime;
  const { config, clients, logger } = getContainer();
  const apiToken = secretString(
    config.SLUICE_API_TOKEN !== undefined
      ? { kind: 'static', value: config.SLUICE_API_TOKEN }
      : { kind: 'secret', secretId: config.API_TOKEN_SECRET_ID!, client: clients.secrets },
  );
  runtime = { logger, apiToken };
  return runtime;
}
