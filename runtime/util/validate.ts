import type { z } from 'zod';
import { EdgestreamError, type ErrorCode } from '../errors.js';

/**
 * The one way a boundary (options, configuration, a file's metadata, a message) is validated: a
 * schema failure becomes an `EdgestreamError` with a stable code whose message names each field
 * and what it allows, never a bare ZodError with a stack trace.
 */
export function validate<T extends z.ZodType>(schema: T, value: unknown, what: string, code: ErrorCode = 'E_CONFIG'): z.output<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues.map(describeIssue);
  const message = problems.length === 1 ? `${what}: ${problems[0]}` : `${what} is not valid:\n  ${problems.join('\n  ')}`;
  throw new EdgestreamError(code, message, { problems });
}

/** `field.path: what is wrong` for one schema issue. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  return `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`;
}
