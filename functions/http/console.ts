import { z } from 'zod';
// Embedded by esbuild: `npm start`, `npm test` and `npm run package` build it first (scripts/console-build.ts).
import bundle from '../../console/dist/bundle.json' with { type: 'json' };
import { NotFoundError } from '../../lib/errors';
import { route } from '../../lib/http/route';
import { httpRuntime } from './runtime';

/**
 * The page may load only its own scripts and styles and talk only to this API: no inline script,
 * no eval, no other origin, and no framing (clickjacking of its buttons).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  // frame-ancestors for browsers that predate it.
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const files = new Map(Object.entries(bundle.files));

const ConsoleParams = z.object({ asset: z.string().min(1).max(256).optional() });

/**
 * `GET /console` (the page) and `GET /console/{asset+}` (its hashed scripts, styles and icon), no
 * token: the page asks for one and sends it to the API itself. The page is revalidated on every
 * load, so a new deployment's asset names are picked up; an asset's name changes with its content,
 * so it is cached for a year.
 */
export const handler = route({ authenticated: false, params: ConsoleParams }, httpRuntime, async ({ params }) => {
  const name = params.asset === undefined ? 'index.html' : params.asset;
  const file = name === 'index.html' || name.startsWith('assets/') ? files.get(name) : undefined;
  if (!file) throw new NotFoundError(`the console has no ${name}`);
  return {
    status: 200,
    text: { contentType: file.contentType, content: file.body },
    headers: { ...SECURITY_HEADERS, 'cache-control': name === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable' },
  };
});
