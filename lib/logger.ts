import { Logger as PowertoolsLogger, LogFormatter, LogItem } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import type { Context } from 'aws-lambda';
import { escapeUnsafeText } from './domain/remote-name';
import type { ErrorReporter, Logger } from './ports';

type Level = 'debug' | 'info' | 'warn' | 'error';

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
 * controls, U+FFFD: see remote-name.ts) shown as `\u{XXXX}` text and URL credentials removed. The
 * one place this is done: remote names reach log lines in many fields (remotePath, error messages
 * quoting a path, an SFTP server's own status text), and JSON alone leaves C1 and bidi characters
 * raw, and a parsed line's C0 raw.
 */
const safeStrings = (_key: string, value: unknown) => (typeof value === 'string' ? escapeUnsafeText(scrubUrlCredentials(value)) : value);

/**
 * sluice's line layout on Powertools: `event` (a stable snake_case name operators filter on) where
 * Powertools puts `message`, lower-case levels, and the invocation's ids under short names. The
 * fields a call passes follow.
 */
class SluiceLogFormatter extends LogFormatter {
  formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    const context = attributes.lambdaContext;
    return new LogItem({
      attributes: {
        time: this.formatTimestamp(attributes.timestamp),
        level: attributes.logLevel.toLowerCase(),
        event: attributes.message,
        service: attributes.serviceName,
        ...(context ? { requestId: context.awsRequestId, function: context.functionName, coldStart: context.coldStart } : {}),
        ...(attributes.xRayTraceId ? { traceId: attributes.xRayTraceId } : {}),
      },
    }).addAttributes(additional);
  }
}

/**
 * Powertools' Logger writing each line through `write` (default: stdout). One stream for every
 * level, as before Powertools: Lambda sends both to CloudWatch, and the local runtime and the
 * tests read one.
 */
class LineLogger extends PowertoolsLogger {
  // Unset while the base constructor runs (it may print a warning): stdout then.
  #write: ((line: string) => void) | undefined;

  constructor(options: ConstructorParameters<typeof PowertoolsLogger>[0], write: ((line: string) => void) | undefined) {
    super(options);
    this.#write = write;
  }

  protected override printLog(_level: number, log: LogItem): void {
    log.prepareForPrint();
    const line = JSON.stringify(log.getAttributes(), this.getJsonReplacer());
    if (this.#write) this.#write(line);
    else process.stdout.write(`${line}\n`);
  }

  protected override createLogger(options?: ConstructorParameters<typeof PowertoolsLogger>[0]): PowertoolsLogger {
    return new LineLogger(options, this.#write);
  }
}

/** The Logger port, plus what a handler does with it at the start of each invocation. */
export interface InvocationLogger extends Logger {
  /** Lines from here on carry this invocation's request id, function name and cold-start flag. */
  setInvocation(context: Context): void;
}

/**
 * One JSON object per line on stdout (CloudWatch parses it), through Powertools Logger (Lambda
 * context, X-Ray trace id, Advanced Logging Controls' level, invocation-scoped state when an
 * environment serves concurrent invocations); secrets redacted by field name, unsafe characters
 * escaped, URL credentials stripped.
 */
export function createLogger(
  options: { level?: Level; service?: string; write?: (line: string) => void; reporter?: ErrorReporter } = {},
): InvocationLogger {
  const logger = new LineLogger(
    {
      logLevel: (options.level ?? 'info').toUpperCase() as 'INFO',
      serviceName: options.service ?? process.env.POWERTOOLS_SERVICE_NAME ?? 'sluice',
      logFormatter: new SluiceLogFormatter(),
      jsonReplacerFn: safeStrings,
    },
    options.write,
  );
  const log = (level: Level) => (event: string, fields: Record<string, unknown> = {}) => {
    const safe = redact(fields) as LogAttributes;
    logger[level](event, safe);
    // The reporter gets the line as written: redacted, unsafe characters escaped, URL credentials gone.
    if (level === 'error' && options.reporter) options.reporter.report(event, JSON.parse(JSON.stringify(safe, safeStrings)) as Record<string, unknown>);
  };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    setInvocation: (context) => logger.addContext(context),
  };
}
