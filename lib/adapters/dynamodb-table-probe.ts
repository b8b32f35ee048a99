import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ReadinessProbe } from '../ports';

/** Ready once the table answers DescribeTable (credentials, network and the table itself). */
export class DynamoTableProbe implements ReadinessProbe {
  constructor(private readonly options: { client: DynamoDBClient; table: string }) {}

  async check(): Promise<void> {
    await this.options.client.send(new DescribeTableCommand({ TableName: this.options.table }));
  }
}
