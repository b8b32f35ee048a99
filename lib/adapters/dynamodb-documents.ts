import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * The document client every DynamoDB adapter shares (built once, in the container), with one
 * marshalling rule: attributes whose value is undefined are left out of the item, as an optional
 * field of a domain object is absent rather than an error.
 */
export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
