import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';
import type { Resolver as ConnectorResolver } from '../../lib/adapters/sftp-connector';

const TYPE_A = 1;
const TYPE_AAAA = 28;

/**
 * A DNS server on 127.0.0.1 (UDP) whose answers a test decides query by query, e.g. a rebinding one
 * that answers an allowed address first and a forbidden one afterwards. Answers A and AAAA
 * queries with the addresses `answer(name, queryNumber)` returns (each family to its own type).
 */
export async function startDnsServer(answer: (name: string, queryNumber: number) => string[]) {
  const socket = createSocket('udp4');
  const queries: { name: string; type: number }[] = [];
  socket.on('message', (query, peer) => {
    const question = parseQuestion(query);
    if (question === undefined) return;
    queries.push(question);
    const addresses = answer(question.name, queries.filter((seen) => seen.type === question.type).length).filter((address) =>
      question.type === TYPE_A ? isIPv4(address) : question.type === TYPE_AAAA ? isIPv6(address) : false,
    );
    socket.send(response(query, question.end, question.type, addresses), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  /** Resolves like the connector's default (every address of both families), through this server only. */
  const resolve: ConnectorResolver = async (host) => {
    const [v4, v6] = await Promise.all([resolver.resolve4(host).catch(() => []), resolver.resolve6(host).catch(() => [])]);
    return [...v4, ...v6];
  };
  return {
    port,
    queries,
    resolve,
    close: () => new Promise<void>((done) => socket.close(() => done())),
  };
}

function parseQuestion(query: Buffer): { name: string; type: number; end: number } | undefined {
  if (query.length < 17) return undefined;
  const labels: string[] = [];
  let offset = 12;
  while (offset < query.length && query[offset] !== 0) {
    const length = query[offset]!;
    labels.push(query.subarray(offset + 1, offset + 1 + length).toString('ascii'));
    offset += length + 1;
  }
  const type = query.readUInt16BE(offset + 1);
  return { name: labels.join('.').toLowerCase(), type, end: offset + 5 };
}

function response(query: Buffer, questionEnd: number, type: number, addresses: string[]): Buffer {
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // the query's id
  header.writeUInt16BE(0x8180, 2); // a response, recursion desired and available, no error
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const answers = addresses.map((address) => {
    const data = type === TYPE_A ? Buffer.from(address.split('.').map(Number)) : ipv6Bytes(address);
    const record = Buffer.alloc(12);
    record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    record.writeUInt16BE(type, 2);
    record.writeUInt16BE(1, 4); // class IN
    record.writeUInt32BE(0, 6); // TTL 0: a rebinding server's trick
    record.writeUInt16BE(data.length, 10);
    return Buffer.concat([record, data]);
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail = ''] = address.split('::');
  const groups = (text: string) => (text === '' ? [] : text.split(':'));
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = [...groups(head), ...Array<string>(address.includes('::') ? missing : 0).fill('0'), ...groups(tail)];
  const bytes = Buffer.alloc(16);
  all.forEach((group, index) => bytes.writeUInt16BE(Number.parseInt(group, 16), index * 2));
  return bytes;
}
