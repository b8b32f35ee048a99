import { getContainer } from '../../lib/container';
import { NotFoundError } from '../../lib/errors';
import { route } from '../../lib/http/route';
import { httpRuntime } from './runtime';
import { FileIdParams } from './schemas';

export const handler = route({ params: FileIdParams }, httpRuntime, async ({ params }) => {
  const file = await getContainer().files.get(params.id);
  if (!file) throw new NotFoundError(`no file with id ${params.id}`);
  return { status: 200, body: file };
});
