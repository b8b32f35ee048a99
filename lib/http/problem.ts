import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ConfigError, ConflictError, DomainError, ValidationError } from '../errors';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** RFC 9457 problem details. `errors` names each invalid field. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code: string;
  requestId: string;
  errors?: { field: string; message: string }[];
}

/**
 * The one place errors become HTTP responses. A DomainError keeps its status and message (written
 * for callers, free of secrets); anything else becomes an opaque 500 that only carries the request
 * id, so internals never leak.
 */
export function toProblem(error: unknown, requestId: string, instance?: string): Problem {
  if (error instanceof DomainError) {
    return {
      type: `urn:sluice:problem:${error.code}`,
      title: error.title,
      status: error.status,
      detail: error.message,
      ...(instance ? { instance } : {}),
      code: error.code,
      requestId,
      ...(error instanceof ValidationError ? { errors: error.issues } : {}),
      // A conflict on one field (a name or key prefix taken) names it as a 400 does, so a form can show it there.
      ...(error instanceof ConflictError && error.field ? { errors: [{ field: error.field, message: error.message }] } : {}),
    };
  }
  if (error instanceof ConfigError) {
    // The variables are named in the log, for the operator; the caller learns only that it is not their fault.
    return {
      type: 'urn:sluice:problem:misconfigured',
      title: 'Service misconfigured',
      status: 500,
      detail: `The service's configuration is invalid; its log names the variables. Quote request id ${requestId} when reporting it.`,
      ...(instance ? { instance } : {}),
      code: 'misconfigured',
      requestId,
    };
  }
  return {
    type: 'urn:sluice:problem:internal',
    title: 'Internal server error',
    status: 500,
    detail: `The request failed unexpectedly; quote request id ${requestId} when reporting it.`,
    ...(instance ? { instance } : {}),
    code: 'internal',
    requestId,
  };
}

export function problemResponse(problem: Problem, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: problem.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, 'x-request-id': problem.requestId, ...headers },
    body: JSON.stringify(problem),
  };
}
