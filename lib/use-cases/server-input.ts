import type { ServerCredentials } from '../domain/credentials';
import type { CreateServerInput } from '../domain/server';
import { ValidationError, type FieldIssue } from '../errors';
import type { ServerDeps } from './servers';

/** Fields this deployment's policy refuses (destination, poll interval), all at once. */
export function policyIssues(input: { host?: string | undefined; pollIntervalSeconds?: number | undefined }, deps: Pick<ServerDeps, 'destinations' | 'minPollIntervalSeconds'>): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const refusal = input.host === undefined ? undefined : deps.destinations.literalRefusal(input.host);
  if (refusal !== undefined) issues.push({ field: 'host', message: `${refusal}: sluice may not connect there` });
  if (input.pollIntervalSeconds !== undefined && input.pollIntervalSeconds < deps.minPollIntervalSeconds) {
    issues.push({ field: 'pollIntervalSeconds', message: `must be at least ${deps.minPollIntervalSeconds} in this deployment (POLL_MIN_INTERVAL_SECONDS)` });
  }
  return issues;
}

/** The credentials a registration or change carries, its private key checked (a 400 naming the field). */
export function credentialsFrom(
  input: Pick<CreateServerInput, 'password' | 'privateKey' | 'passphrase'>,
  checkPrivateKey: ServerDeps['checkPrivateKey'],
): ServerCredentials | undefined {
  if (input.password !== undefined) return { type: 'password', password: input.password };
  if (input.privateKey === undefined) return undefined;
  const problem = checkPrivateKey(input.privateKey, input.passphrase);
  if (problem !== undefined) {
    const field = input.passphrase !== undefined && /passphrase|decrypt/i.test(problem) ? 'passphrase' : 'privateKey';
    throw new ValidationError([{ field, message: problem }]);
  }
  return input.passphrase === undefined
    ? { type: 'privateKey', privateKey: input.privateKey }
    : { type: 'privateKey', privateKey: input.privateKey, passphrase: input.passphrase };
}
