import { DeleteCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ConnectionSlots } from '../ports';
import { conditionally } from './dynamodb-conditions';

/**
 * Connection slots `conn#<serverId>#<n>` for n < max: a holder owns a slot until `leaseUntil`, so a
 * crashed holder's slot lapses. Acquiring tries the slots from a random start; at most `max` requests.
 */
export class DynamoConnectionSlots implements ConnectionSlots {
  private readonly documents: DynamoDBDocumentClient;

  constructor(private readonly options: { documents: DynamoDBDocumentClient; table: string }) {
    this.documents = options.documents;
  }

  async acquire(serverId: string, max: number, owner: string, until: Date): Promise<string | undefined> {
    const start = Math.floor(Math.random() * max);
    for (let offset = 0; offset < max; offset++) {
      const slot = String((start + offset) % max);
      const taken = await conditionally(
        this.documents.send(
          new PutCommand({
            TableName: this.options.table,
            Item: { pk: `conn#${serverId}#${slot}`, holder: owner, leaseUntil: until.getTime() },
            ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now',
            ExpressionAttributeValues: { ':now': Date.now() },
          }),
        ),
      );
      if (taken) return slot;
    }
    return undefined;
  }

  renew(serverId: string, slot: string, owner: string, until: Date): Promise<boolean> {
    return conditionally(
      this.documents.send(
        new PutCommand({
          TableName: this.options.table,
          Item: { pk: `conn#${serverId}#${slot}`, holder: owner, leaseUntil: until.getTime() },
          ConditionExpression: 'holder = :owner',
          ExpressionAttributeValues: { ':owner': owner },
        }),
      ),
    );
  }

  async release(serverId: string, slot: string, owner: string): Promise<void> {
    await conditionally(
      this.documents.send(
        new DeleteCommand({
          TableName: this.options.table,
          Key: { pk: `conn#${serverId}#${slot}` },
          ConditionExpression: 'holder = :owner',
          ExpressionAttributeValues: { ':owner': owner },
        }),
      ),
    );
  }
}
