import type { Problem } from './types';

/**
 * The API client: same origin, the token from sessionStorage only (gone with the tab; never in
 * localStorage, a cookie or the URL). Every call reports whether the API answered, so the page can
 * show an unreachable API or a refused token whichever view made the call.
 */
const TOKEN_KEY = 'sluice.apiToken';

export const tokenStore = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** The API answered with an error (problem+json when it is the API's own). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** The token is missing or wrong (401). */
export class TokenRefusedError extends ApiError {}

/** No answer from the API: the network, or a gateway answering for it (502/503/504 without a problem body). */
export class UnreachableError extends Error {}

export type Connectivity = 'ok' | 'unreachable' | 'refused';
const listeners = new Set<(state: Connectivity) => void>();

export function onConnectivity(listener: (state: Connectivity) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const report = (state: Connectivity) => listeners.forEach((listener) => listener(state));

function authorization(token: string | null): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function send(method: string, path: string, body: unknown, token: string | null): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', ...authorization(token) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  try {
    return await fetch(path, { method, headers, cache: 'no-store', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch {
    throw new UnreachableError(`no answer from the API (${method} ${path})`);
  }
}

async function failure(response: Response): Promise<Error> {
  const isProblem = response.headers.get('content-type')?.includes('application/problem+json') ?? false;
  const problem = isProblem ? ((await response.json().catch(() => undefined)) as Problem | undefined) : undefined;
  // Deployed, API Gateway's authorizer answers a wrong token itself: 401 or a bare 403 (no problem body).
  if (response.status === 401 || (response.status === 403 && !problem)) {
    return new TokenRefusedError(response.status, problem, problem?.detail ?? 'the API refused the token');
  }
  if (!problem && response.status >= 500) return new UnreachableError(`the API did not answer (HTTP ${response.status})`);
  return new ApiError(response.status, problem, problem?.detail ?? `HTTP ${response.status}`);
}

async function call(method: string, path: string, body?: unknown): Promise<Response> {
  let response: Response;
  try {
    response = await send(method, path, body, tokenStore.get());
  } catch (error) {
    report('unreachable');
    throw error;
  }
  if (response.ok) {
    report('ok');
    return response;
  }
  const error = await failure(response);
  report(error instanceof TokenRefusedError ? 'refused' : error instanceof UnreachableError ? 'unreachable' : 'ok');
  throw error;
}

/** A JSON route; resolves to undefined for 204. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await call(method, path, body);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

/** A text route (GET /metrics). */
export async function apiText(path: string): Promise<string> {
  return (await call('GET', path)).text();
}

/** Tries a token without keeping it: the login form's check. */
export async function checkToken(token: string): Promise<'ok' | 'refused' | 'unreachable'> {
  try {
    const response = await send('GET', '/servers?limit=1', undefined, token);
    if (response.ok) return 'ok';
    const error = await failure(response);
    return error instanceof TokenRefusedError ? 'refused' : 'unreachable';
  } catch {
    return 'unreachable';
  }
}

/** A message for a failed call, for a notice. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.problem ? `${error.problem.title}: ${error.problem.detail}` : error.message;
  if (error instanceof UnreachableError) return 'The API is unreachable; try again.';
  return error instanceof Error ? error.message : String(error);
}

export const query = (params: Record<string, string | number | undefined | null>) => {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
};
