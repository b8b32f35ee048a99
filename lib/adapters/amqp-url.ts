import { scrubUrlCredentials } from '../logger';

/** Why `url` cannot be the broker's URL, in words that quote none of it; undefined when it can. */
export function brokerUrlProblem(url: string): string | undefined {
  const problem = 'is not a broker URL (amqp:// or amqps:// with a host)';
  try {
    const parsed = new URL(url);
    return (parsed.protocol === 'amqp:' || parsed.protocol === 'amqps:') && parsed.hostname !== '' ? undefined : problem;
  } catch {
    return problem;
  }
}

/** The URL with its password replaced by `***`, for logs and the local banner. */
export function redactAmqpUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return scrubUrlCredentials(url);
  }
}

/** Adds `heartbeat` unless the URL sets its own: it bounds how long a dead peer goes unnoticed. */
export function withHeartbeat(url: string, seconds: number): string {
  try {
    const parsed = new URL(url);
    if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(seconds));
    return parsed.toString();
  } catch {
    return url; // amqplib reports the malformed URL itself
  }
}

export function virtualHost(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.slice(1)) || '/';
  } catch {
    return '/';
  }
}
