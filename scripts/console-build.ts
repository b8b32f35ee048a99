import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { globSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, relative, resolve } from 'node:path';

/**
 * The operator console (console/, Preact + Vite) as one JSON file that functions/http/console.ts
 * imports, so esbuild embeds the page in that function's bundle: deployed, offline and in tests the
 * page and the code serving it are always of the same build, with no file to find at run time.
 * Rebuilt only when the console's sources or its libraries changed (a hash of both is kept in it).
 */
export const CONSOLE_BUNDLE = 'console/dist/bundle.json';

/** Media types of what Vite emits; anything else stops the build (the route serves text only). */
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml; charset=utf-8',
};

const LIBRARIES = ['vite', 'preact', 'uplot'];

export interface ConsoleBundle {
  sourceHash: string;
  files: Record<string, { contentType: string; body: string }>;
}

function sourceHash(projectRoot: string): string {
  const hash = createHash('sha256');
  const sources = globSync('console/**/*', { cwd: projectRoot, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(projectRoot, join(entry.parentPath, entry.name)).split('\\').join('/'))
    .filter((path) => !path.startsWith('console/dist/'))
    .sort();
  for (const path of sources) hash.update(`${path}\0`).update(readFileSync(join(projectRoot, path))).update('\0');
  for (const library of LIBRARIES) {
    const manifest = JSON.parse(readFileSync(join(projectRoot, 'node_modules', library, 'package.json'), 'utf8')) as { version: string };
    hash.update(`${library}@${manifest.version}\0`);
  }
  return hash.digest('hex');
}

function builtHash(projectRoot: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(projectRoot, CONSOLE_BUNDLE), 'utf8')) as ConsoleBundle).sourceHash;
  } catch {
    return undefined;
  }
}

function runVite(projectRoot: string, outDir: string): Promise<void> {
  return new Promise((resolveBuild, reject) => {
    const child = spawn(
      process.execPath,
      [join(projectRoot, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'console/vite.config.ts', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
      { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolveBuild() : reject(new Error(`the console build (vite) failed:\n${output}`))));
  });
}

/**
 * Builds the console unless the bundle is of the current sources. Vite writes to a private
 * temporary directory and the bundle replaces the old one by a rename, so builds running side by
 * side (npm start and npm test in one tree) never see half a bundle.
 */
export async function ensureConsoleBuilt(projectRoot: string, log: (line: string) => void = () => {}, force = false): Promise<void> {
  const hash = sourceHash(projectRoot);
  if (!force && builtHash(projectRoot) === hash) return;
  const started = Date.now();
  const outDir = mkdtempSync(join(tmpdir(), 'sluice-console-'));
  try {
    await runVite(projectRoot, outDir);
    const files: ConsoleBundle['files'] = {};
    for (const path of globSync('**/*', { cwd: outDir, withFileTypes: true })) {
      if (!path.isFile()) continue;
      const name = relative(outDir, join(path.parentPath, path.name)).split('\\').join('/');
      const contentType = CONTENT_TYPES[extname(name)];
      if (!contentType) throw new Error(`the console build emitted ${name}: only ${Object.keys(CONTENT_TYPES).join(', ')} can be served`);
      files[name] = { contentType, body: readFileSync(join(outDir, name), 'utf8') };
    }
    if (!files['index.html']) throw new Error('the console build emitted no index.html');
    const target = join(projectRoot, CONSOLE_BUNDLE);
    mkdirSync(resolve(target, '..'), { recursive: true });
    const temporary = `${target}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify({ sourceHash: hash, files } satisfies ConsoleBundle));
    renameSync(temporary, target);
    log(`Console built           ${CONSOLE_BUNDLE} (${Object.keys(files).length} files, ${Date.now() - started} ms)`);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

// `npm run console:build [-- --force]`
if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.dirname, 'console-build.ts')) {
  ensureConsoleBuilt(resolve(import.meta.dirname, '..'), console.log, process.argv.includes('--force')).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
