import { createServer, request, Agent, type IncomingMessage, type ServerResponse } from 'node:http';

/**
 * A loopback shim in front of fauxqs for rclone (aws-sdk-go). Go's encoding/xml writes `"` as
 * `&#34;`; fauxqs 2.4.1 decodes only named entities, so rclone's quoted part ETags in
 * CompleteMultipartUpload never match and every multipart copy fails with InvalidPart. The shim
 * rewrites numeric references to named ones in that one request body; everything else, part data
 * included, passes through untouched.
 */
export async function startS3XmlShim(upstreamPort: number): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const named: Record<number, string> = { 34: '&quot;', 38: '&amp;', 39: '&apos;', 60: '&lt;', 62: '&gt;' };
  const normalise = (xml: string) =>
    xml.replace(/&#(x[0-9a-fA-F]+|[0-9]+);/g, (match, reference: string) => {
      const code = reference[0] === 'x' ? parseInt(reference.slice(1), 16) : parseInt(reference, 10);
      return named[code] ?? (code < 0x110000 ? String.fromCodePoint(code) : match);
    });
  const forward = (incoming: IncomingMessage, response: ServerResponse, body?: Buffer) => {
    const headers = { ...incoming.headers, ...(body ? { 'content-length': String(body.length) } : {}) };
    if (body) delete headers['transfer-encoding'];
    const upstream = request({ host: '127.0.0.1', port: upstreamPort, method: incoming.method, path: incoming.url, headers, agent }, (reply) => {
      response.writeHead(reply.statusCode ?? 502, reply.statusMessage, reply.headers);
      reply.pipe(response);
    });
    upstream.on('error', (error) => {
      if (!response.headersSent) response.writeHead(502);
      response.end(`shim: ${error.message}`);
    });
    if (body) upstream.end(body);
    else incoming.pipe(upstream);
  };
  const server = createServer((incoming, response) => {
    const completing = incoming.method === 'POST' && new URL(incoming.url ?? '/', 'http://shim').searchParams.has('uploadId');
    if (!completing) return forward(incoming, response);
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => forward(incoming, response, Buffer.from(normalise(Buffer.concat(chunks).toString('utf8')))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
