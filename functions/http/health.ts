import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { getContainer } from '../../lib/container';
import { route } from '../../lib/http/route';
import { errorSummary } from '../../lib/use-cases/servers';
import { httpRuntime } from './runtime';

/** Unauthenticated readiness probe: 200 once the servers table answers, 503 until then. */
export const handler = route({ authenticated: false }, httpRuntime, async () => {
  const { clients, config, logger } = getContainer();
  try {
    await clients.dynamodb.send(new DescribeTableCommand({ TableName: config.SERVERS_TABLE }));
    return { status: 200, body: { status: 'ok' } };
  } catch (error) {
    logger.warn('health_check_failed', { error: errorSummary(error) });
    return { status: 503, body: { status: 'unavailable' } };
  }
});
