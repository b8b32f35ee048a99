import { GlobSyntaxError } from '../errors';

/**
 * Compiles a shell-style glob into an anchored RegExp: `*` and `?` never cross `/`, `**` does,
 * `[abc]` / `[!abc]` classes, `{a,b}` alternatives, `\` escapes. Throws GlobSyntaxError on
 * malformed input so bad patterns are rejected when a server is registered, not at poll time.
 */
export function compileGlob(pattern: string): RegExp {
  let source = '';
  let braceDepth = 0;
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index]!;
    switch (char) {
      case '\\': {
        const next = pattern[index + 1];
        if (next === undefined) throw new GlobSyntaxError('ends with a lone backslash');
        source += escapeRegExp(next);
        index++;
        break;
      }
      case '*':
        if (pattern[index + 1] === '*') {
          source += '.*';
          index++;
        } else {
          source += '[^/]*';
        }
        break;
      case '?':
        source += '[^/]';
        break;
      case '[': {
        const close = pattern.indexOf(']', index + 2);
        if (close === -1) throw new GlobSyntaxError('has an unclosed [');
        let body = pattern.slice(index + 1, close);
        const negated = body.startsWith('!') || body.startsWith('^');
        if (negated) body = body.slice(1);
        if (body === '') throw new GlobSyntaxError('has an empty [] class');
        source += `[${negated ? '^/' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
        index = close;
        break;
      }
      case '{':
        braceDepth++;
        source += '(?:';
        break;
      case '}':
        if (braceDepth === 0) throw new GlobSyntaxError('has an unmatched }');
        braceDepth--;
        source += ')';
        break;
      case ',':
        source += braceDepth > 0 ? '|' : ',';
        break;
      default:
        source += escapeRegExp(char);
    }
  }
  if (braceDepth !== 0) throw new GlobSyntaxError('has an unclosed {');
  return new RegExp(`^${source}$`, 'u');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
