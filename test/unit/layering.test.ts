import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

/**
 * The README's "Layout" rules, checked against the code: what each folder may import. A rule broken
 * here is either a leak to fix or a rule the README must change with it.
 */
const projectRoot = resolve(import.meta.dirname, '../..');

/** Every module a file imports (static and dynamic), relative targets as project paths. */
function importsOf(file: string): string[] {
  const source = readFileSync(join(projectRoot, file), 'utf8');
  const specifiers = [...source.matchAll(/(?:from|import\()\s*'([^']+)'/g)].map((match) => match[1]!);
  return specifiers.map((specifier) => (specifier.startsWith('.') ? normalize(relative(projectRoot, join(projectRoot, dirname(file), specifier))) : specifier));
}

function violations(pattern: string, forbidden: (target: string) => boolean): string[] {
  return globSync(pattern, { cwd: projectRoot }).flatMap((file) => importsOf(file).filter(forbidden).map((target) => `${file} -> ${target}`));
}

const isSdk = (target: string) => /^(@aws-sdk|ssh2|ssh2-sftp-client|amqplib|@sentry|@aws-lambda-powertools|@middy)\b/.test(target);

describe('layering (README, "Layout")', () => {
  it('domain rules import nothing but themselves, errors, zod and Node', () => {
    assert.deepEqual(violations('lib/domain/**/*.ts', (target) => !/^(lib\/domain\/|lib\/errors$|zod$|node:|hash-wasm$)/.test(target)), []);
  });

  it('ports speak in domain types only', () => {
    assert.deepEqual(violations('lib/ports/**/*.ts', (target) => !/^(lib\/domain\/|lib\/ports\/)/.test(target)), []);
  });

  it('use cases depend on ports, domain and errors: no adapter, SDK, container or HTTP', () => {
    assert.deepEqual(violations('lib/use-cases/**/*.ts', (target) => isSdk(target) || /^lib\/(adapters|container|http|sqs|config|logger)\b/.test(target)), []);
  });

  it('adapters never reach up into use cases, the container or the handlers', () => {
    assert.deepEqual(violations('lib/adapters/**/*.ts', (target) => /^(lib\/(use-cases|container|http|sqs)\b|functions\/)/.test(target)), []);
  });

  it('handlers reach the world through the container: no adapter or SDK of their own', () => {
    assert.deepEqual(violations('functions/**/*.ts', (target) => isSdk(target) || /^lib\/adapters\//.test(target)), []);
  });

  it('the deployed code never imports tests, benchmarks or scripts; benchmarks never import tests', () => {
    assert.deepEqual(violations('{lib,functions}/**/*.ts', (target) => /^(test|bench|scripts)\//.test(target)), []);
    assert.deepEqual(violations('bench/**/*.ts', (target) => /^test\//.test(target)), []);
  });

  it('no source file under lib/ or functions/ is longer than 300 lines', () => {
    const long = globSync('{lib,functions}/**/*.ts', { cwd: projectRoot })
      .map((file) => ({ file, lines: readFileSync(join(projectRoot, file), 'utf8').split('\n').length - 1 }))
      .filter(({ lines }) => lines > 300)
      .map(({ file, lines }) => `${file}: ${lines}`);
    assert.deepEqual(long, []);
  });
});
