import { getContainer } from '../../lib/container';
import { route } from '../../lib/http/route';
import { retryFile } from '../../lib/use-cases/redrive';
import { httpRuntime } from './runtime';
import { FileIdParams } from './schemas';

export const handler = route({ params: FileIdParams }, httpRuntime, async ({ params, requestId }) => ({
  status: 202,
  body: await retryFile(params.id, getContainer().redriveDeps, { requestId }),
}));
