/**
 * What a remote file name may not carry, and how such a name is shown. One declaration, used when a
 * poll decides whether to take a file (an unsafe one is quarantined there, `unsafe_name`), again by
 * objectKey at transfer time (defence in depth), and by the logger, which escapes every string.
 *
 * Unsafe characters:
 * - C0 controls, DEL and C1 controls (U+0080–U+009F): terminal escapes, forged log lines; SQS
 *   refuses most of C0 in a message body, failing the poll's whole SendMessageBatch;
 * - bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069): they make a name read
 *   differently from what it is ("Trojan Source");
 * - U+2028 and U+2029, line and paragraph separators (forged lines in viewers that honour them);
 * - U+FFFD: ssh2 decodes names as UTF-8 and puts U+FFFD for bytes that are not, so the name is not
 *   the server's (it cannot even be opened: the request would send U+FFFD's bytes back);
 * - U+FFFE, U+FFFF and lone surrogates: SQS refuses them as well.
 */
// Also the invisible format characters that reorder or hide text (bidi marks, zero-width ones, the
// byte-order mark, tag characters): a name that renders unlike its bytes can pass for another.
const UNSAFE_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff\ufffd\ufffe\uffff\u{e0000}-\u{e007f}]|\p{Cs}/u;
const UNSAFE_CHARACTERS = new RegExp(UNSAFE_CHARACTER.source, 'gu');
const UNSAFE_OR_BACKSLASH = new RegExp(`${UNSAFE_CHARACTER.source}|\\\\`, 'gu');
/** Tab and line breaks, which JSON escapes itself and which error messages and stack traces carry. */
const JSON_ESCAPED = /[\t\n\r]/;

/** POSIX NAME_MAX of common file systems; a longer component only comes from a server that lies. */
export const MAX_COMPONENT_BYTES = 255;
/** S3's limit on an object key. */
export const MAX_KEY_BYTES = 1024;
/** An escaped name is cut to this many characters (a ledger item and a log line stay small). */
export const MAX_ESCAPED_LENGTH = 1024;

/**
 * Why `relativePath` (below the server's remoteDir) cannot be ingested under `keyPrefix`, in words
 * that never repeat the name; undefined when it can. Every segment must be a real name (no empty,
 * `.` or `..` segment, so no name climbs out of its prefix or forges another server's keys), carry
 * no unsafe character, and fit in 255 UTF-8 bytes; the key `<keyPrefix>/<relativePath>` must fit in
 * S3's 1,024 bytes.
 */
export function unsafeNameReason(relativePath: string, keyPrefix: string): string | undefined {
  const unsafe = UNSAFE_CHARACTER.exec(relativePath);
  if (unsafe) return `the remote name contains U+${hex(unsafe[0])} (${characterKind(unsafe[0])})`;
  const segments = relativePath.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    return 'the remote path has an empty, "." or ".." segment';
  }
  if (segments.some((segment) => Buffer.byteLength(segment, 'utf8') > MAX_COMPONENT_BYTES)) {
    return `a component of the remote path is longer than ${MAX_COMPONENT_BYTES} bytes`;
  }
  const keyBytes = Buffer.byteLength(keyPrefix, 'utf8') + 1 + Buffer.byteLength(relativePath, 'utf8');
  if (keyBytes > MAX_KEY_BYTES) return `the object key would be ${keyBytes} bytes, over ${MAX_KEY_BYTES}`;
  return undefined;
}

/** Whether a single path component (a directory entry's name) is one the listing may descend into. */
export function isSafeComponent(name: string): boolean {
  // An empty name would make a directory its own child: a listing that loops until its depth bound.
  return name !== '' && !UNSAFE_CHARACTER.test(name) && Buffer.byteLength(name, 'utf8') <= MAX_COMPONENT_BYTES;
}

/**
 * `name` as plain, printable text: every unsafe character and every backslash as `\u{XXXX}` (so the
 * rendering is unambiguous: a `\` in the output always starts an escape), cut after `maxLength`
 * characters with a marker saying how many bytes of the name are left out. Never splits an escape
 * or a surrogate pair.
 */
export function escapeName(name: string, maxLength = MAX_ESCAPED_LENGTH): string {
  const escaped = name.replace(UNSAFE_OR_BACKSLASH, escapeCharacter);
  if (escaped.length <= maxLength) return escaped;
  let shown = '';
  let shownBytes = 0;
  for (const character of name) {
    const piece = character === '\\' || UNSAFE_CHARACTER.test(character) ? escapeCharacter(character) : character;
    if (shown.length + piece.length > maxLength) break;
    shown += piece;
    shownBytes += Buffer.byteLength(character, 'utf8');
  }
  return `${shown}…[${Buffer.byteLength(name, 'utf8') - shownBytes} more bytes]`;
}

/**
 * For log lines: unsafe characters as `\u{XXXX}`, except tab and line breaks (JSON escapes those
 * itself, and stack traces need them). Backslashes stay, so an escaped name stays as it is.
 */
export function escapeUnsafeText(text: string): string {
  if (!UNSAFE_CHARACTER.test(text)) return text;
  return text.replace(UNSAFE_CHARACTERS, (character) => (JSON_ESCAPED.test(character) ? character : escapeCharacter(character)));
}

function escapeCharacter(character: string): string {
  return `\\u{${hex(character)}}`;
}

function hex(character: string): string {
  return (character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
}

function characterKind(character: string): string {
  const codePoint = character.codePointAt(0) ?? 0;
  if (codePoint <= 0x1f || codePoint === 0x7f) return 'a control character';
  if (codePoint <= 0x9f) return 'a C1 control character';
  if (codePoint === 0x2028 || codePoint === 0x2029) return 'a line separator';
  if (codePoint >= 0x202a && codePoint <= 0x202e) return 'a bidirectional control';
  if (codePoint >= 0x2066 && codePoint <= 0x2069) return 'a bidirectional control';
  if (codePoint === 0x061c || (codePoint >= 0x200b && codePoint <= 0x200f) || (codePoint >= 0x2060 && codePoint <= 0x2065) || codePoint === 0xfeff || (codePoint >= 0xe0000 && codePoint <= 0xe007f)) return 'an invisible format character';
  if (codePoint === 0xfffd) return 'bytes that are not valid UTF-8';
  return 'a character SQS refuses';
}
