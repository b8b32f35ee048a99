import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGlob } from '../../lib/domain/glob';
import { GlobSyntaxError } from '../../lib/errors';

describe('compileGlob', () => {
  const cases: [string, string, boolean][] = [
    ['*', 'report.csv', true],
    ['*', 'dir/report.csv', false],
    ['**', 'dir/report.csv', true],
    ['*.csv', 'report.csv', true],
    ['*.csv', 'report.csv.part', false],
    ['report-?.txt', 'report-1.txt', true],
    ['report-?.txt', 'report-10.txt', false],
    ['[abc]*', 'beta', true],
    ['[!abc]*', 'beta', false],
    ['*.{csv,json}', 'x.json', true],
    ['*.{csv,json}', 'x.xml', false],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['data (1).csv', 'data (1).csv', true],
    ['ünïcödé-*.txt', 'ünïcödé-1.txt', true],
    ['a-b.c+d', 'a-b.c+d', true],
  ];
  for (const [pattern, name, expected] of cases) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${name}`, () => {
      assert.equal(compileGlob(pattern).test(name), expected);
    });
  }

  for (const bad of ['[abc', '{a,b', 'a}', 'trailing\\']) {
    it(`rejects the malformed pattern ${bad}`, () => {
      assert.throws(() => compileGlob(bad), GlobSyntaxError);
    });
  }
});
