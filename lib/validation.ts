import type { z } from 'zod';
import { ValidationError, type FieldIssue } from './errors';

/** Turns zod issues into one FieldIssue per offending field; unknown keys are named individually. */
export function fieldIssues(error: z.ZodError, prefix?: string): FieldIssue[] {
  const qualify = (path: PropertyKey[]) => {
    const field = path.map(String).join('.');
    if (prefix === undefined) return field || 'body';
    return field ? `${prefix}.${field}` : prefix;
  };
  return error.issues.flatMap((issue): FieldIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: qualify([...issue.path, key]), message: 'is not a known field' }));
    }
    return [{ field: qualify(issue.path), message: issue.message }];
  });
}

/** Parses `value` or throws a ValidationError naming every bad field. */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, prefix?: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(fieldIssues(result.error, prefix));
  return result.data;
}
