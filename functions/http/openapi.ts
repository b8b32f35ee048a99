import { z } from 'zod';
import { route } from '../../lib/http/route';
import { ServerTestResultSchema } from '../../lib/use-cases/server-test';
import { httpRuntime } from './runtime';
import {
  CreateServerInput,
  FileViewSchema,
  ListFilesQuery,
  ListServersQuery,
  QueuedSchema,
  RenotifyServerQuery,
  RetriedSchema,
  RetryServerQuery,
  ServerViewSchema,
  StatsQuery,
  StatsSchema,
  UpdateServerInput,
} from './schemas';

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  instance: z.string().optional(),
  code: z.string(),
  requestId: z.string(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const errors = {
  '400': problem('Invalid input; `errors` names each invalid field'),
  '401': problem('Missing or wrong bearer token'),
};

/** OpenAPI 3.1 document generated from the same zod schemas that validate requests. */
export function openApiDocument() {
  const listQuery = jsonSchema(ListServersQuery, 'input') as { properties: Record<string, object> };
  const filesQuery = jsonSchema(ListFilesQuery, 'input') as { properties: Record<string, object>; required: string[] };
  const queryParameters = (schema: z.ZodType) => {
    const { properties, required = [] } = jsonSchema(schema, 'input') as { properties: Record<string, object>; required?: string[] };
    return Object.entries(properties).map(([name, property]) => ({ name, in: 'query', required: required.includes(name), schema: property }));
  };
  return {
    openapi: '3.1.0',
    info: { title: 'sluice', version: '1.0.0', description: 'Registers the SFTP servers sluice ingests files from.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        CreateServer: jsonSchema(CreateServerInput, 'input'),
        UpdateServer: jsonSchema(UpdateServerInput, 'input'),
        Server: jsonSchema(ServerViewSchema, 'output'),
        ServerPage: {
          type: 'object',
          required: ['items', 'nextToken'],
          properties: {
            items: { type: 'array', items: { $ref: '#/components/schemas/Server' } },
            nextToken: { type: ['string', 'null'], description: 'Pass as `nextToken` to get the next page; null on the last page.' },
          },
        },
        ServerTest: jsonSchema(ServerTestResultSchema, 'output'),
        File: jsonSchema(FileViewSchema, 'output'),
        FilePage: {
          type: 'object',
          required: ['items', 'nextToken'],
          properties: {
            items: { type: 'array', items: { $ref: '#/components/schemas/File' } },
            nextToken: { type: ['string', 'null'] },
          },
        },
        Retried: jsonSchema(RetriedSchema, 'output'),
        Queued: jsonSchema(QueuedSchema, 'output'),
        Stats: jsonSchema(StatsSchema, 'output'),
        Problem: jsonSchema(ProblemSchema, 'output'),
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/servers': {
        post: {
          operationId: 'createServer',
          requestBody: { required: true, content: json('CreateServer') },
          responses: {
            '201': { description: 'Registered', content: json('Server') },
            ...errors,
            '409': problem('A server with this name or key prefix exists (`errors` names the field), or MAX_SERVERS are registered'),
            '413': problem('Body larger than 64 KiB'),
            '415': problem('Body is not application/json'),
          },
        },
        get: {
          operationId: 'listServers',
          parameters: Object.entries(listQuery.properties).map(([name, schema]) => ({ name, in: 'query', schema })),
          responses: { '200': { description: 'A page of servers', content: json('ServerPage') }, ...errors },
        },
      },
      '/servers/{id}': {
        get: {
          operationId: 'getServer',
          parameters: [idParameter],
          responses: { '200': { description: 'The server', content: json('Server') }, ...errors, '404': problem('Unknown id') },
        },
        patch: {
          operationId: 'updateServer',
          parameters: [idParameter],
          requestBody: { required: true, content: json('UpdateServer') },
          responses: {
            '200': { description: 'Updated', content: json('Server') },
            ...errors,
            '404': problem('Unknown id'),
            '409': problem('Name or key prefix taken (`errors` names the field), or changed concurrently'),
            '413': problem('Body larger than 64 KiB'),
            '415': problem('Body is not application/json'),
          },
        },
        delete: {
          operationId: 'deleteServer',
          parameters: [idParameter],
          responses: { '204': { description: 'Deleted, with its secret' }, ...errors, '404': problem('Unknown id') },
        },
      },
      '/files': {
        get: {
          operationId: 'listFiles',
          description: "A server's ingestion history, newest first; kept after the server is deleted.",
          parameters: Object.entries(filesQuery.properties).map(([name, schema]) => ({ name, in: 'query', required: filesQuery.required.includes(name), schema })),
          responses: { '200': { description: 'A page of file versions', content: json('FilePage') }, ...errors },
        },
      },
      '/files/{id}': {
        get: {
          operationId: 'getFile',
          parameters: [idParameter],
          responses: { '200': { description: 'The file version', content: json('File') }, ...errors, '404': problem('Unknown id') },
        },
      },
      '/servers/{id}/test': {
        post: {
          operationId: 'testServer',
          description:
            'Checks the server now and changes nothing: connects, reports the host key it presents and whether it is the pinned (or recorded) one, ' +
            'logs in only if it is, and lists the first page of remoteDir. A failed check is a 200 with `ok: false` and `error.code` ' +
            '(destination_denied, connect_failed, timeout, host_key_unknown, host_key_not_pinned, host_key_mismatch, auth_failed, ...).',
          parameters: [idParameter],
          responses: { '200': { description: 'The result of the check', content: json('ServerTest') }, ...errors, '404': problem('Unknown id') },
        },
      },
      '/files/{id}/renotify': {
        post: {
          operationId: 'renotifyFile',
          description: "Publishes the version's file.ingested message again (same AMQP messageId) and waits for the broker's confirm.",
          parameters: [idParameter],
          responses: {
            '200': { description: 'Announced; the file version as it is now', content: json('File') },
            ...errors,
            '404': problem('Unknown id'),
            '409': problem('The version has no stored object yet, or is being announced right now'),
            '503': problem('The broker did not take the message'),
          },
        },
      },
      '/files/{id}/retry': {
        post: {
          operationId: 'retryFile',
          description:
            'Sends a failed, quarantined or vanished version back to pending with its attempts reset and enqueues its transfer; once the cause is gone ' +
            'it is ingested and announced as any other. One conditional write decides: of two concurrent retries one wins, the other is a 409.',
          parameters: [idParameter],
          responses: {
            '202': { description: 'Sent back to pending; the file version as it is now', content: json('File') },
            ...errors,
            '404': problem('Unknown id'),
            '409': problem(
              'The version is in another status (code `conflict`), or a retry cannot help it (code `not_retryable`: quarantined as unsafe_name, or its server was deleted)',
            ),
          },
        },
      },
      '/servers/{id}/retry': {
        post: {
          operationId: 'retryServer',
          description:
            'Retries every failed, quarantined or vanished version of the server (or those in `status`), as POST /files/{id}/retry does, ' +
            'skipping those a retry cannot help (unsafe_name).',
          parameters: [idParameter, ...queryParameters(RetryServerQuery)],
          responses: { '202': { description: 'The versions retried', content: json('Retried') }, ...errors, '404': problem('Unknown server') },
        },
      },
      '/servers/{id}/renotify': {
        post: {
          operationId: 'renotifyServer',
          description:
            'Re-publishes, through the notify queue, the file.ingested message of every version of the server first announced (notifiedAt) at or after `since`, ' +
            'each with its original messageId: for a consumer that lost its queue.',
          parameters: [idParameter, ...queryParameters(RenotifyServerQuery)],
          responses: { '202': { description: 'The announcements queued', content: json('Queued') }, ...errors, '404': problem('Unknown server') },
        },
      },
      '/stats': {
        get: {
          operationId: 'getStats',
          description:
            'File versions by status (all seven, zeros included) and, for the last 24 h (hourly buckets), files and bytes ingested and failures by code: ' +
            'of one server (`serverId`) or of the whole deployment. Read from counters kept as versions change state, not from the files.',
          parameters: queryParameters(StatsQuery),
          responses: { '200': { description: 'The counters', content: json('Stats') }, ...errors, '404': problem('Unknown server') },
        },
      },
      '/metrics': {
        get: {
          operationId: 'getMetrics',
          description:
            'The deployment in the Prometheus text exposition format 0.0.4: sluice_files{status}, sluice_files_ingested_total, sluice_bytes_ingested_total, ' +
            'sluice_servers{state}, sluice_queue_messages{queue,state}, sluice_queue_oldest_message_age_seconds{queue} (transfer and notify, from the ledger), ' +
            'and the histogram sluice_detect_to_notify_seconds.',
          responses: {
            '200': { description: 'The metrics', content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } } },
            '401': problem('Missing or wrong bearer token'),
          },
        },
      },
      '/health': {
        get: { operationId: 'health', security: [], responses: { '200': { description: 'Ready' }, '503': problem('Not ready') } },
      },
      '/openapi.json': {
        get: { operationId: 'openapi', security: [], responses: { '200': { description: 'This document' } } },
      },
      '/console': {
        get: {
          operationId: 'console',
          security: [],
          description: 'The operator console, a page that asks for the API token and calls the routes above with it. No token is needed to load it.',
          responses: { '200': { description: 'The page', content: { 'text/html': { schema: { type: 'string' } } } } },
        },
      },
      '/console/{asset}': {
        get: {
          operationId: 'consoleAsset',
          security: [],
          description: "The console's scripts, styles and icon (`assets/<name>-<hash>.<ext>`; the path may hold slashes), cached for a year.",
          parameters: [{ name: 'asset', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'The asset' }, '404': problem('No such asset') },
        },
      },
    },
  };
}

let cached: ReturnType<typeof openApiDocument> | undefined;

export const handler = route({ authenticated: false }, httpRuntime, async () => ({
  status: 200,
  body: (cached ??= openApiDocument()),
}));
