import { readFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import assert from 'node:assert/strict';
import type { Sshd } from '../../scripts/fixtures/sshd';
import { eventually } from './eventually';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run integration tests through "npm test"`);
  return value;
}

export const apiUrl = () => required('SLUICE_TEST_API_URL');
export const apiToken = () => required('SLUICE_TEST_API_TOKEN');
export const stage = () => process.env.SLUICE_TEST_STAGE ?? 'local';

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** Calls the API over HTTP with the test token unless `token` says otherwise (null: no header). */
export async function api(
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; token?: string | null; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const token = options.token === undefined ? apiToken() : options.token;
  const headers: Record<string, string> = { ...(token === null ? {} : { authorization: `Bearer ${token}` }) };
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  } else if (options.rawBody !== undefined) {
    body = options.rawBody;
  }
  const response = await fetch(`${apiUrl()}${path}`, { method, headers: { ...headers, ...options.headers }, body });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Everything the functions have printed so far (their JSON log lines and serverless-offline's). */
export function functionLog(): string {
  return readFileSync(required('SLUICE_TEST_FUNCTION_LOG'), 'utf8');
}

const credentials = { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'x', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'x' };
export const secretsClient = () => new SecretsManagerClient({ region: 'us-east-1', credentials });
export const dynamoClient = () => new DynamoDBClient({ region: 'us-east-1', credentials });

let counter = 0;
/** A server name unique to this test run, so test files can share one stack. */
export function uniqueName(prefix = 'srv'): string {
  counter++;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** Waits on a condition about the running stack, showing the functions' last log lines if it times out. */
export function waitForStack<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 90_000): Promise<T> {
  return eventually(what, check, timeoutMs, { context: () => functionLog().slice(-3000), everyMs: 500 });
}

/** Registers a server polling `dir` under the test sshd's root (password login, files taken at once); its id. */
export async function registerSshdServer(sshd: Sshd, dir: string, namePrefix: string): Promise<string> {
  const created = await api('POST', '/servers', {
    body: { name: uniqueName(namePrefix), host: '127.0.0.1', port: sshd.port, username: sshd.username, password: sshd.password, remoteDir: `${sshd.root}/${dir}`, stableAfterSeconds: 0 },
  });
  assert.equal(created.status, 201, created.text);
  return created.json.id as string;
}

/** Waits until the server has been polled `polls` more times: what those polls would enqueue and announce has been by then. */
export async function polledAgain(serverId: string, polls: number): Promise<void> {
  let last = (await api('GET', `/servers/${serverId}`)).json.lastPollAt;
  for (let seen = 0; seen < polls; seen++) {
    await waitForStack('another poll', async () => {
      const now = (await api('GET', `/servers/${serverId}`)).json.lastPollAt;
      if (now === last) return undefined;
      last = now;
      return true;
    });
  }
}
