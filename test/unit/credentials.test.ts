import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { parseCredentials, serializeCredentials } from '../../lib/domain/credentials';
import { SecretInvalidError } from '../../lib/errors';

const ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:sluice/test/servers/s1-abc123';
const CANARY = 'hunter2-canary';

/** Everything a logger, a console.error or an API response could make of the error. */
function everything(error: unknown): string {
  const fields = error as Error & { cause?: unknown };
  return [String(error), fields.message, fields.stack, inspect(error, { depth: 5 }), JSON.stringify(error), String(fields.cause)].join('\n');
}

function refusal(secretString: string | undefined): SecretInvalidError {
  try {
    parseCredentials(ARN, secretString);
  } catch (error) {
    assert.ok(error instanceof SecretInvalidError, `a SecretInvalidError, got ${String(error)}`);
    return error;
  }
  assert.fail('the value was accepted');
}

describe('server credentials read back from their secret', () => {
  it('round-trips what the store writes', () => {
    for (const credentials of [
      { type: 'password', password: 'p' },
      { type: 'privateKey', privateKey: 'k' },
      { type: 'privateKey', privateKey: 'k', passphrase: 'pp' },
    ] as const) {
      assert.deepEqual(parseCredentials(ARN, serializeCredentials(credentials)), credentials);
    }
  });

  const corrupt: [string, string | undefined, RegExp][] = [
    ['text that is not JSON', `${CANARY} is not JSON`, /does not parse as JSON/],
    ['JSON cut short', `{"type":"password","password":"${CANARY}`, /does not parse as JSON/],
    ['a JSON string', JSON.stringify(CANARY), /not a JSON object/],
    ['a JSON array', JSON.stringify([CANARY]), /not a JSON object/],
    ['an unknown type', JSON.stringify({ type: CANARY, password: CANARY }), /wrong or missing: type/],
    ['a misspelt field', JSON.stringify({ type: 'password', passwd: CANARY }), /wrong or missing: password/],
    ['a field of the wrong type', JSON.stringify({ type: 'privateKey', privateKey: 42, passphrase: CANARY }), /wrong or missing: privateKey/],
    ['an unknown key named like the value', JSON.stringify({ type: 'password', [CANARY]: 1 }), /wrong or missing: password/],
    ['nothing', undefined, /holds no text/],
    ['blanks', '   ', /holds no text/],
  ];
  for (const [what, value, reason] of corrupt) {
    it(`refuses ${what} with secret_invalid, naming the secret and quoting nothing of the value`, () => {
      const error = refusal(value);
      assert.equal(error.code, 'secret_invalid');
      assert.equal(error.retryable, false);
      assert.equal(error.secretId, ARN);
      assert.ok(error.message.startsWith(`the stored secret is not valid credentials JSON (`), error.message);
      assert.ok(!error.message.includes(ARN), "where the secret is stored stays out of the message");
      assert.match(error.message, reason);
      assert.equal(error.cause, undefined, 'no parser error kept: it quotes the value');
      // Its first characters too: JSON.parse's SyntaxError quotes a truncated start (`"hunter2-ca"...`).
      assert.ok(!everything(error).includes(CANARY.slice(0, 10)), everything(error));
    });
  }
});
