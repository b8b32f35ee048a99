import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ListingBudget } from '../../lib/domain/listing-bounds';
import { objectKey } from '../../lib/domain/object-key';
import { escapeName, escapeUnsafeText, isSafeComponent, unsafeNameReason } from '../../lib/domain/remote-name';
import { SftpError, UnsafeKeyError } from '../../lib/errors';
import { createLogger } from '../../lib/logger';

/** Every character the rules call unsafe, one per kind, and where it comes from. */
const HOSTILE: Record<string, string> = {
  'C0 control': 'a\u0001b.csv',
  'escape (C0)': 'a\u001b[31mred.csv',
  DEL: 'a\u007fb.csv',
  'C1 control (NEL)': 'a\u0085b.csv',
  'C1 control (CSI)': 'a\u009bb.csv',
  'right-to-left override': 'invoice\u202ecsv.exe',
  'left-to-right embedding': '\u202aname.csv',
  'first-strong isolate': 'a\u2068b.csv',
  'pop directional isolate': 'a\u2069b.csv',
  'left-to-right isolate': 'a\u2066b.csv',
  'line separator': 'a\u2028b.csv',
  'not UTF-8 (U+FFFD from ssh2)': 'caf\ufffd.csv',
  'noncharacter U+FFFF (SQS refuses it)': 'a\uffffb.csv',
  'lone surrogate': 'a\ud800b.csv',
};

describe('unsafeNameReason', () => {
  for (const [kind, name] of Object.entries(HOSTILE)) {
    it(`refuses a name with a ${kind}, naming the code point but not the name`, () => {
      const reason = unsafeNameReason(`in/${name}`, 'acme');
      assert.ok(reason, kind);
      assert.match(reason, /U\+[0-9A-F]{4}/);
      assert.equal(escapeUnsafeText(reason), reason, 'the reason itself is safe to show');
    });
  }

  it('accepts spaces, non-ASCII letters, emoji and quotes', () => {
    for (const name of ['a b.csv', 'ünïcödé €.csv', 'été/日本語.csv', 'rocket 🚀.csv', `it's "quoted".csv`, 'back\\slash.csv', 'x'.repeat(255)]) {
      assert.equal(unsafeNameReason(name, 'acme'), undefined, name);
    }
  });

  it('refuses a path component over 255 UTF-8 bytes, counting bytes rather than characters', () => {
    assert.match(unsafeNameReason('x'.repeat(256), 'acme') ?? '', /255 bytes/);
    assert.match(unsafeNameReason(`ok/${'é'.repeat(128)}`, 'acme') ?? '', /255 bytes/, '128 × 2 bytes');
    assert.equal(unsafeNameReason('é'.repeat(127), 'acme'), undefined);
  });

  it('refuses a path whose object key would pass 1,024 bytes, prefix included', () => {
    const path = Array.from({ length: 4 }, () => 'y'.repeat(250)).join('/'); // 1,003 bytes
    assert.equal(unsafeNameReason(path, 'p'.repeat(20)), undefined, '20 + 1 + 1,003 = 1,024');
    assert.match(unsafeNameReason(path, 'p'.repeat(21)) ?? '', /1025 bytes, over 1024/);
  });

  it('refuses empty, "." and ".." segments', () => {
    for (const path of ['../x', 'a/../../b', './x', 'a//b', '/abs', 'a/']) assert.ok(unsafeNameReason(path, 'acme'), path);
  });

  it('is the check objectKey makes at transfer time', () => {
    for (const name of Object.values(HOSTILE)) assert.throws(() => objectKey('acme', name), UnsafeKeyError);
    assert.equal(objectKey('acme', 'in/ü.csv'), 'acme/in/ü.csv');
  });

  it('judges a single component for the listing the same way', () => {
    assert.equal(isSafeComponent('ok.csv'), true);
    assert.equal(isSafeComponent('x'.repeat(256)), false);
    for (const name of Object.values(HOSTILE)) assert.equal(isSafeComponent(name), false, JSON.stringify(name));
  });
});

describe('escapeName', () => {
  it('renders every unsafe character and every backslash as \\u{XXXX}', () => {
    assert.equal(escapeName('a\u0001b\u0085c\u202ed\u2066e\ufffdf\\g'), 'a\\u{0001}b\\u{0085}c\\u{202E}d\\u{2066}e\\u{FFFD}f\\u{005C}g');
    assert.equal(escapeName('new\nline\ttab'), 'new\\u{000A}line\\u{0009}tab');
  });

  it('leaves a safe name as it is', () => {
    assert.equal(escapeName('/in/ünïcödé €/rocket 🚀.csv'), '/in/ünïcödé €/rocket 🚀.csv');
  });

  it('leaves no unsafe character in its output, whatever the input', () => {
    for (const name of Object.values(HOSTILE)) {
      const escaped = escapeName(name);
      assert.equal(unsafeNameReason(escaped, 'acme'), undefined, `${JSON.stringify(name)} -> ${escaped}`);
    }
  });

  it('cuts a long name at the bound with a marker of what is left out, never inside an escape or a surrogate pair', () => {
    const long = escapeName('a'.repeat(200_000));
    assert.equal(long, `${'a'.repeat(1024)}…[198976 more bytes]`);
    const escapes = escapeName('\u202e'.repeat(300), 20);
    assert.equal(escapes, `${'\\u{202E}'.repeat(2)}…[894 more bytes]`, '2 escapes of 8 characters fit in 20; 298 × 3 bytes left');
    const emoji = escapeName('🚀'.repeat(20), 5);
    assert.equal(emoji, '🚀🚀…[72 more bytes]', 'a pair is 2 UTF-16 units: 2 fit in 5');
  });
});

describe('escapeUnsafeText (the logger\'s escaping)', () => {
  it('escapes unsafe characters but keeps backslashes, tabs and line breaks, so an escaped name stays as it is', () => {
    assert.equal(escapeUnsafeText('open /in/a\u202eb: failed\n  at x'), 'open /in/a\\u{202E}b: failed\n  at x');
    const escaped = escapeName('a\u202eb\\c');
    assert.equal(escapeUnsafeText(escaped), escaped);
  });

  it('is applied by the logger to every string of a line, however nested', () => {
    const lines: string[] = [];
    const logger = createLogger({ write: (line) => lines.push(line) });
    logger.warn('file_quarantined', { remotePath: '/in/\u202eexe.csv', error: { message: 'x\u0085y', deep: [{ deeper: { deepest: { still: { more: { path: '\u2066' } } } } }] } });
    const [line] = lines;
    assert.ok(line);
    assert.doesNotMatch(line, /[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/);
    const parsed = JSON.parse(line);
    assert.equal(parsed.remotePath, '/in/\\u{202E}exe.csv');
    assert.equal(parsed.error.message, 'x\\u{0085}y');
    assert.match(line, /\\\\u\{2066\}/);
  });
});

describe('ListingBudget', () => {
  it('allows exactly maxEntries entries and fails the next as listing_too_large', () => {
    const budget = new ListingBudget({ maxEntries: 3, maxDepth: 2, maxSeconds: 120 }, '/in');
    budget.countEntry();
    budget.countEntry();
    budget.countEntry();
    assert.throws(
      () => budget.countEntry(),
      (error: unknown) => error instanceof SftpError && error.code === 'listing_too_large' && error.retryable && /POLL_MAX_ENTRIES/.test(error.message),
    );
  });

  it('allows directories maxDepth levels down and fails one deeper', () => {
    const budget = new ListingBudget({ maxEntries: 10, maxDepth: 2, maxSeconds: 120 }, '/in');
    budget.descend(1);
    budget.descend(2);
    assert.throws(() => budget.descend(3), (error: unknown) => error instanceof SftpError && error.code === 'listing_too_large' && /POLL_MAX_DEPTH/.test(error.message));
  });

  it('fails a listing that outlasts its deadline as timeout, at the next page', () => {
    new ListingBudget({ maxEntries: 10, maxDepth: 2, maxSeconds: 120 }, '/in').checkTime();
    const budget = new ListingBudget({ maxEntries: 10, maxDepth: 2, maxSeconds: 0 }, '/in');
    const started = Date.now();
    while (Date.now() === started); // the next millisecond: past a deadline of 0 s
    assert.throws(() => budget.checkTime(), (error: unknown) => error instanceof SftpError && error.code === 'timeout' && /POLL_LISTING_TIMEOUT_SECONDS/.test(error.message));
  });
});
