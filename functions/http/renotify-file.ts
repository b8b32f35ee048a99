import { getContainer } from '../../lib/container';
import { route } from '../../lib/http/route';
import { renotifyFile } from '../../lib/use-cases/notify';
import { httpRuntime } from './runtime';
import { FileIdParams } from './schemas';

export const handler = route({ params: FileIdParams }, httpRuntime, async ({ params }) => {
  const file = await renotifyFile(params.id, getContainer().notifyDeps);
  return { status: 200, body: file };
});
