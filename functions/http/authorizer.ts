import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerResult } from 'aws-lambda';
import { bearerMatches } from '../../lib/http/auth';
import { httpRuntime } from './runtime';

/**
 * API Gateway (HTTP API) Lambda authorizer, deployed on AWS only: rejects calls without the right
 * bearer token before any route function runs. Throwing "Unauthorized" is how an authorizer makes
 * API Gateway answer 401. Routes check the token again, so local runs (which skip authorizers) and
 * AWS behave the same.
 */
export async function handler(event: APIGatewayRequestAuthorizerEventV2): Promise<APIGatewaySimpleAuthorizerResult> {
  const expected = await httpRuntime().apiToken();
  const authorization = event.headers?.authorization ?? event.headers?.Authorization ?? event.identitySource?.[0];
  if (!bearerMatches(authorization, expected)) throw new Error('Unauthorized');
  return { isAuthorized: true };
}
