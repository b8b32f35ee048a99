import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerResult } from 'aws-lambda';
import { ConfigError } from '../../lib/errors';
import { bearerMatches } from '../../lib/http/auth';
import { httpRuntime } from './runtime';

/**
 * API Gateway (HTTP API) Lambda authorizer, deployed on AWS only: rejects calls without the right
 * bearer token before any route function runs. Throwing "Unauthorized" is how an authorizer makes
 * API Gateway answer 401. Routes check the token again, so local runs (which skip authorizers) and
 * AWS behave the same.
 *
 * With an invalid configuration the authorizer cannot know the token: it lets the request through
 * to the route function, which checks the token itself and, with the same configuration, answers
 * 500 problem+json with a request id (API Gateway would turn an authorizer failure into a bare 500).
 */
export async function handler(event: APIGatewayRequestAuthorizerEventV2): Promise<APIGatewaySimpleAuthorizerResult> {
  let expected: string;
  try {
    expected = await httpRuntime().apiToken();
  } catch (error) {
    if (error instanceof ConfigError) return { isAuthorized: true };
    throw error;
  }
  const authorization = event.headers?.authorization ?? event.headers?.Authorization ?? event.identitySource?.[0];
  if (!bearerMatches(authorization, expected)) throw new Error('Unauthorized');
  return { isAuthorized: true };
}
