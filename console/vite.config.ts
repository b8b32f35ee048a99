import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Built by scripts/console-build.ts into one JSON bundle that functions/http/console.ts serves.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // The page is GET /console; its hashed assets are GET /console/assets/<name>.
  base: '/console/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    target: 'es2022',
    sourcemap: false,
    // Nothing inlined as data: URLs: the Content-Security-Policy allows 'self' only.
    assetsInlineLimit: 0,
    // Modern browsers only: no inline polyfill script.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
