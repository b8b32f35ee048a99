import { escapeUnsafeText } from './domain/remote-name';
import type { Logger } from './ports';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

/** Field names whose values are replaced before a line is written, wherever they are nested. */
const SECRET_FIELD = /pass(word|phrase)?|private.?key|secret(?!arn)|token|authorization|credential|cookie/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [key, SECRET_FIELD.test(key) ? '[redacted]' : redact(inner, depth + 1)]),
  );
}

/** Strips user:password from URLs (AMQP, HTTP) that may appear inside error messages. */
export function scrubUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s:]+(?::[^/@\s]*)?@/gi, '$1***@');
}

/**
 * Every string of a line, however deeply nested, with its unsafe characters (controls, bidi
 * controls, U+FFFD: see remote-name.ts) shown as `\u{XXXX}` text. The one place this is done: remote
 * names reach log lines in many fields (remotePath, error messages quoting a path, an SFTP server's
 * own status text), and JSON alone leaves C1 and bidi characters raw, and a parsed line's C0 raw.
 */
const escapeStrings = (_key: string, value: unknown) => (typeof value === 'string' ? escapeUnsafeText(value) : value);

/**
 * One JSON object per line on stdout (CloudWatch parses it); secrets redacted by field name,
 * unsafe characters escaped.
 */
export function createLogger(
  options: { level?: Level; base?: Record<string, unknown>; write?: (line: string) => void } = {},
): Logger {
  const threshold = LEVELS[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log = (level: Level) => (event: string, fields: Record<string, unknown> = {}) => {
    if (LEVELS[level] < threshold) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level, event, ...options.base, ...(redact(fields) as object) }, escapeStrings);
    write(scrubUrlCredentials(line));
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
