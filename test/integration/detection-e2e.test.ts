import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeleteMessageCommand, GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { TransferJob } from '../../lib/ports';
import { api, stage, uniqueName } from '../helpers/api';
import { startSshd, writeRemoteFile, type Sshd } from '../helpers/sshd';

let sshd: Sshd;
const sqs = new SQSClient({ region: 'us-east-1', useQueueUrlAsEndpoint: false });

before(async () => {
  sshd = await startSshd();
});
after(async () => {
  sqs.destroy();
  await sshd.dispose();
});

describe('detection through the running stack', () => {
  it('registers a server over the API and its files reach the transfer queue; the API shows the poll status', async () => {
    writeRemoteFile(sshd, 'e2e/one.csv', 'one', 1_700_000_000);
    writeRemoteFile(sshd, 'e2e/two.csv', 'two', 1_700_000_000);
    const created = await api('POST', '/servers', {
      body: {
        name: uniqueName('e2e'),
        host: '127.0.0.1',
        port: sshd.port,
        username: sshd.username,
        password: sshd.password,
        remoteDir: `${sshd.root}/e2e`,
        stableAfterSeconds: 0,
      },
    });
    assert.equal(created.status, 201, created.text);
    const serverId: string = created.json.id;
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: `sluice-${stage()}-transfer` }));
    const found = new Map<string, TransferJob>();
    const deadline = Date.now() + 150_000;
    while (found.size < 2 && Date.now() < deadline) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2, VisibilityTimeout: 1 }));
      for (const message of Messages) {
        const job = JSON.parse(message.Body!) as TransferJob;
        if (job.serverId !== serverId) continue;
        found.set(job.fileId, job);
        await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle! }));
      }
    }
    assert.deepEqual([...found.values()].map((job) => job.remotePath.split('/').pop()).sort(), ['one.csv', 'two.csv']);

    const view = await api('GET', `/servers/${serverId}`);
    assert.equal(view.json.observedHostKey, sshd.hostKey, 'first-seen host key recorded and shown');
    assert.equal(view.json.consecutiveFailures, 0);
    assert.equal(view.json.lastError, null);
    assert.ok(view.json.lastPollAt);
    assert.equal((await api('PATCH', `/servers/${serverId}`, { body: { active: false } })).status, 200);
  });
});
