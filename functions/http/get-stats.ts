import { getContainer } from '../../lib/container';
import { route } from '../../lib/http/route';
import { readStats } from '../../lib/use-cases/metrics';
import { httpRuntime } from './runtime';
import { StatsQuery } from './schemas';

/** Counts by status and the last 24 h of ingestion, of one server or of the whole deployment. */
export const handler = route({ query: StatsQuery, qualifyQueryFields: true }, httpRuntime, async ({ query }) => ({
  status: 200,
  body: await readStats(query.serverId, getContainer().metricsDeps),
}));
