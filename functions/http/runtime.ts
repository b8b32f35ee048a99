import { getContainer } from '../../lib/container';
import { ConfigError } from '../../lib/errors';
import { bootstrapLogger, type RouteRuntime } from '../../lib/http/route';

let runtime: RouteRuntime | undefined;

// Parse the configuration at cold start so a bad variable is logged, by name, before any request.
// The init does not fail on it: a failed init is an HTTP 500 without a problem body (and a 200
// with a stack trace under serverless-offline); each request answers 500 problem+json instead.
try {
  getContainer();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  bootstrapLogger.error('config_invalid', { variables: error.variables, message: error.message });
}

/** Route runtime built from the container once per cold start. */
export function httpRuntime(): RouteRuntime {
  if (runtime) return runtime;
  const { logger, apiToken, invocation } = getContainer();
  runtime = { logger, apiToken, invocation };
  return runtime;
}
