import type { z } from 'zod';
import { ValidationError } from '../errors';

/** DynamoDB's LastEvaluatedKey as an opaque `nextToken` for API clients. */
export function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Parses a `nextToken` back into an ExclusiveStartKey; a token this API did not issue is a 400. */
export function decodeCursor(token: string, shape: z.ZodType<Record<string, unknown>>): Record<string, unknown> {
  try {
    return shape.parse(JSON.parse(Buffer.from(token, 'base64url').toString('utf8')));
  } catch {
    throw new ValidationError([{ field: 'nextToken', message: 'is not a token this API issued' }]);
  }
}
