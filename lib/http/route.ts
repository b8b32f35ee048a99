import { randomUUID } from 'node:crypto';
import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { z } from 'zod';
import { ConfigError, errorMessage, PayloadTooLargeError, UnauthorizedError, UnsupportedMediaTypeError, ValidationError } from '../errors';
import { createLogger } from '../logger';
import type { Logger } from '../ports';
import { parseOrThrow } from '../validation';
import { bearerMatches } from './auth';
import { problemResponse, toProblem } from './problem';

/** Logs what happens before (or without) a valid configuration, which sets the real logger's level. */
export const bootstrapLogger: Logger = createLogger({ level: 'info' });

/** Requests larger than this are refused with 413; a server registration is a few KiB at most. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface HttpResult {
  status: number;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is instead of `body`, with its media type (e.g. the Prometheus text format). */
  text?: { contentType: string; content: string };
  headers?: Record<string, string>;
}

export interface RouteSpec<B extends z.ZodType | undefined, P extends z.ZodType | undefined, Q extends z.ZodType | undefined> {
  /** Whether the route needs `Authorization: Bearer <token>`; true unless stated. */
  authenticated?: boolean;
  body?: B;
  params?: P;
  query?: Q;
  /**
   * Name invalid query parameters `query.<name>` in a 400, as errors.ts describes fields; the routes
   * that predate it name them bare (`limit`), which their callers already rely on.
   */
  qualifyQueryFields?: boolean;
}

type Parsed<S> = S extends z.ZodType ? z.infer<S> : undefined;

export interface RouteInput<B, P, Q> {
  body: Parsed<B>;
  params: Parsed<P>;
  query: Parsed<Q>;
  requestId: string;
}

export interface RouteRuntime {
  logger: Logger;
  /** The token callers must present; only consulted for authenticated routes. */
  apiToken(): Promise<string>;
  /** Around each request: its id on the log lines, and what the use case counted written at its end. */
  invocation?: { begin(context: Context): void; end(): Promise<void> };
}

interface RouteContext extends Context {
  sluiceRequestId?: string;
  sluiceStartedAt?: number;
}

type Request = middy.Request<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, RouteContext>;

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

function readJsonBody(event: APIGatewayProxyEventV2): unknown {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(`the request body is ${bytes.length} bytes; the limit is ${MAX_BODY_BYTES}`);
  }
  const contentType = header(event, 'content-type');
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json' && !mediaType?.endsWith('+json')) {
    throw new UnsupportedMediaTypeError(
      `send the body as application/json${contentType ? ` (got ${mediaType ?? 'none'})` : ' (no Content-Type given)'}`,
    );
  }
  if (bytes.length === 0) throw new ValidationError([{ field: 'body', message: 'a JSON object is required' }]);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ValidationError([{ field: 'body', message: 'is not valid JSON' }]);
  }
}

/**
 * Wraps a route handler in middy: request id, bearer authentication, body/params/query parsing with
 * zod, an access log line, and (registered last) the error handler that turns every failure into an
 * RFC 9457 problem response, so no error ever escapes as a 200.
 */
export function route<B extends z.ZodType | undefined, P extends z.ZodType | undefined, Q extends z.ZodType | undefined>(
  spec: RouteSpec<B, P, Q>,
  runtime: () => RouteRuntime,
  handle: (input: RouteInput<B, P, Q>) => Promise<HttpResult>,
) {
  const requestContext: MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, RouteContext> = {
    before: (request: Request) => {
      // Lambda's request id: unique per invocation everywhere (serverless-offline fakes API Gateway's).
      request.context.sluiceRequestId = request.context.awsRequestId || randomUUID();
      request.context.sluiceStartedAt = Date.now();
      optionalRuntime()?.invocation?.begin(request.context);
    },
    after: async (request: Request) => {
      await optionalRuntime()?.invocation?.end();
      accessLog(request);
    },
    onError: async (request: Request) => {
      await optionalRuntime()
        ?.invocation?.end()
        .catch((error: unknown) => logger().error('invocation_end_failed', { error: errorMessage(error) }));
      const requestId = request.context.sluiceRequestId ?? randomUUID();
      const problem = toProblem(request.error, requestId, request.event.rawPath);
      if (request.error instanceof ConfigError) {
        logger().error('config_invalid', { requestId, route: request.event.routeKey, variables: request.error.variables, message: request.error.message });
      } else if (problem.status >= 500) {
        logger().error('http_unhandled_error', {
          requestId,
          route: request.event.routeKey,
          error: request.error instanceof Error ? { name: request.error.name, message: request.error.message, stack: request.error.stack } : String(request.error),
        });
      }
      request.response = problemResponse(problem, problem.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
      accessLog(request);
    },
  };

  /** The runtime, or undefined when it cannot be built (a bad configuration, answered as a 500 problem). */
  function optionalRuntime(): RouteRuntime | undefined {
    try {
      return runtime();
    } catch {
      return undefined;
    }
  }

  /** The runtime's logger, or the bootstrap one when the runtime cannot be built. */
  function logger(): Logger {
    return optionalRuntime()?.logger ?? bootstrapLogger;
  }

  function accessLog(request: Request) {
    logger().info('http_request', {
      requestId: request.context.sluiceRequestId,
      method: request.event.requestContext?.http?.method,
      path: request.event.rawPath,
      status: request.response?.statusCode,
      durationMs: Date.now() - (request.context.sluiceStartedAt ?? Date.now()),
    });
  }

  const authenticate: MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, RouteContext> = {
    before: async (request: Request) => {
      if (spec.authenticated === false) return;
      const expected = await runtime().apiToken();
      if (!bearerMatches(header(request.event, 'authorization'), expected)) {
        throw new UnauthorizedError('send a valid API token as "Authorization: Bearer <token>"');
      }
    },
  };

  const core = async (event: APIGatewayProxyEventV2, context: RouteContext): Promise<APIGatewayProxyStructuredResultV2> => {
    const input = {
      body: spec.body ? parseOrThrow(spec.body, readJsonBody(event)) : undefined,
      params: spec.params ? parseOrThrow(spec.params, event.pathParameters ?? {}) : undefined,
      query: spec.query ? parseOrThrow(spec.query, event.queryStringParameters ?? {}, spec.qualifyQueryFields ? 'query' : undefined) : undefined,
      requestId: context.sluiceRequestId ?? randomUUID(),
    } as RouteInput<B, P, Q>;
    const result = await handle(input);
    const body = result.text ? result.text.content : result.body !== undefined ? JSON.stringify(result.body) : undefined;
    const contentType = result.text ? result.text.contentType : 'application/json';
    return {
      statusCode: result.status,
      headers: {
        ...(body !== undefined ? { 'content-type': contentType } : {}),
        'x-request-id': input.requestId,
        ...result.headers,
      },
      ...(body !== undefined ? { body } : {}),
    };
  };

  // Order matters: middy runs `before` in registration order and `onError` in reverse, so the
  // problem mapper (first registered) is the last error handler to run.
  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, RouteContext>()
    .use(requestContext)
    .use(authenticate)
    .handler(core);
}
