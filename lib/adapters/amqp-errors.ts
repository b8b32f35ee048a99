import { PublishError } from '../errors';
import { scrubUrlCredentials } from '../logger';
import { virtualHost } from './amqp-url';

const ACCESS_REFUSED = 403;
const NOT_FOUND = 404;
const NOT_ALLOWED = 530;

/**
 * Names amqplib and socket failures as PublishErrors, and scrubs their text of the broker's URL,
 * host and credentials (all of which come from the broker secret).
 */
export class BrokerErrors {
  private readonly secrets: string[];
  private readonly peer: RegExp | undefined;

  constructor(private readonly options: { url: string; exchange: string }) {
    this.secrets = credentialForms(options.url);
    this.peer = peerPattern(options.url);
  }

  /** Maps an amqplib or socket failure to a code; `during` says what was under way. */
  classify(error: unknown, during: string): PublishError {
    if (error instanceof PublishError) return error;
    const { exchange } = this.options;
    const details = error as { message?: unknown; code?: unknown };
    const reason = this.sanitize(String(details.message ?? error));
    const cause = this.sanitizedCause(error, reason);
    const code = details.code;
    if (code === NOT_FOUND && /no exchange/i.test(reason)) {
      return new PublishError('exchange_missing', `${this.context()}: exchange "${exchange}" does not exist (${reason})`, { cause });
    }
    if (code === ACCESS_REFUSED || code === NOT_ALLOWED || /ACCESS[-_]REFUSED|NOT[-_]ALLOWED/.test(reason)) {
      return new PublishError('access_refused', `${this.context()}: access refused (${reason})`, { cause });
    }
    // Credentials accepted, then connection.open answered with a close: amqplib drops the reply code, but
    // RabbitMQ does this for a virtual host that is missing or that the user may not use (530 NOT_ALLOWED).
    if (/Expected ConnectionOpenOk; got <ConnectionClose/.test(reason)) {
      return new PublishError(
        'access_refused',
        `${this.context()}: the broker refused virtual host "${virtualHost(this.options.url)}" (missing, or the user has no access to it)`,
        { cause },
      );
    }
    return new PublishError('broker_unavailable', `${this.context()}: broker unavailable while ${during} (${reason})`, { cause });
  }

  /**
   * Error messages end up in a file's `lastError` (the files API): they say "the broker", never its
   * URL, host or user, all of which come from the broker secret. This adapter's log lines name it.
   */
  context(): string {
    return `publish to exchange "${this.options.exchange}" on the broker`;
  }

  /**
   * amqplib and socket messages may quote the URL, the peer (`connect ECONNREFUSED 10.0.0.5:5672`,
   * `getaddrinfo ENOTFOUND mq.example`) or, in a frame dump, the credentials: remove all of them.
   */
  sanitize(text: string): string {
    let clean = scrubUrlCredentials(text);
    for (const secret of this.secrets) clean = clean.split(secret).join('***');
    if (this.peer) clean = clean.replace(this.peer, 'the broker');
    return clean.replace(IPV4_PEER, 'the broker').replace(IPV6_CANDIDATE, (match) => (isIpv6Peer(match) ? 'the broker' : match));
  }

  /** The original error, rebuilt without credentials, so logging `cause` cannot leak them either. */
  private sanitizedCause(error: unknown, message: string): Error {
    const original = error as { name?: unknown; code?: unknown; stack?: unknown };
    const copy = new Error(message) as Error & { code?: unknown };
    if (typeof original.name === 'string') copy.name = original.name;
    if (original.code !== undefined) copy.code = original.code;
    if (typeof original.stack === 'string') copy.stack = this.sanitize(original.stack);
    return copy;
  }
}

/**
 * The password and user name as written in the URL and decoded. Shorter than 4 characters they are
 * left alone: replacing them everywhere would garble messages without protecting anything.
 */
function credentialForms(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const forms = [parsed.password, parsed.username].flatMap((raw) => {
    try {
      return [raw, decodeURIComponent(raw)];
    } catch {
      return [raw]; // keep the raw form
    }
  });
  return [...new Set(forms)].filter((secret) => secret.length >= 4).sort((a, b) => b.length - a.length);
}

/** Any IPv4 address, with its port if given: a resolved broker address need not be the URL's host. */
const IPV4_PEER = /(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?!\w|\.\d)/g;

/** Runs of hex digits and colons; those that are IPv6 addresses (with a port, perhaps) are told apart by isIpv6Peer. */
const IPV6_CANDIDATE = /(?<![\w:.])\[?[0-9a-f]*:[0-9a-f:]*\]?(?::\d{1,5})?(?![\w:]|\.\w)/gi;

/** A compressed (`::`) or full (7 colons) IPv6 address; `12:34:56` and `a:b` are left alone. */
function isIpv6Peer(text: string): boolean {
  return text.includes('::') || text.split(':').length > 7;
}

/** The URL's host (IPv6 with or without brackets), with its port if given, as a whole word. */
function peerPattern(url: string): RegExp | undefined {
  let hostname: string;
  try {
    hostname = new URL(url).hostname;
  } catch {
    return undefined;
  }
  const forms = [...new Set([hostname, hostname.replace(/^\[|\]$/g, '')])].filter(Boolean);
  if (forms.length === 0) return undefined;
  const escaped = forms.map((form) => form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  return new RegExp(`(?<![\\w.-])(?:${escaped})(?::\\d{1,5})?(?![\\w-]|\\.\\w)`, 'gi');
}
