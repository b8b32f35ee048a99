import { getContainer } from '../../lib/container';
import { PROMETHEUS_CONTENT_TYPE } from '../../lib/domain/prometheus';
import { route } from '../../lib/http/route';
import { renderMetrics } from '../../lib/use-cases/metrics';
import { httpRuntime } from './runtime';

/** The deployment's metrics in the Prometheus text exposition format (a scrape target). */
export const handler = route({}, httpRuntime, async () => ({
  status: 200,
  text: { contentType: PROMETHEUS_CONTENT_TYPE, content: await renderMetrics(getContainer().metricsDeps) },
}));
