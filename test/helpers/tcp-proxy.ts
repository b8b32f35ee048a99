import { createServer, connect, type Socket } from 'node:net';

/**
 * A fault-injecting TCP proxy on 127.0.0.1 in front of a real server: counts the bytes the server
 * sends, can cut every connection once a byte budget is reached, and can throttle.
 */
export interface TcpProxy {
  port: number;
  /** Client connections accepted so far. */
  readonly connections: number;
  /** Bytes forwarded from the server to clients, over all connections. */
  readonly bytesFromServer: number;
  /** Cut all connections once this many more bytes came from the server. */
  cutAfter(bytes: number): void;
  /** Called once when the server has sent `bytes` more bytes (for a fault mid-stream). */
  onceAfter(bytes: number, action: () => void): void;
  /** Forward at most this many bytes per second from the server (0: unlimited). */
  throttle(bytesPerSecond: number): void;
  /** Hold every chunk this long in each direction (a round trip gains twice this); 0: none. */
  delay(milliseconds: number): void;
  cutAll(): void;
  /** New connections go to this port from now on (another server at the same address). */
  retarget(port: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let bytesFromServer = 0;
  let cutAt: number | undefined;
  let trigger: { at: number; action: () => void } | undefined;
  let rate = 0;
  let latency = 0;
  let connections = 0;
  // Timers of equal duration fire in the order they were set, so delayed chunks keep their order.
  const forward = (to: Socket, chunk: Buffer) => {
    if (latency === 0) return to.write(chunk);
    setTimeout(() => to.destroyed || to.write(chunk), latency);
    return true;
  };

  const cutAll = () => {
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };

  const server = createServer((client) => {
    connections++;
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      if (!forward(upstream, chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (chunk: Buffer) => {
      bytesFromServer += chunk.length;
      if (trigger && bytesFromServer >= trigger.at) {
        const { action } = trigger;
        trigger = undefined;
        action();
      }
      if (cutAt !== undefined && bytesFromServer >= cutAt) {
        cutAt = undefined;
        cutAll();
        return;
      }
      if (!forward(client, chunk)) upstream.pause();
      if (rate > 0) {
        upstream.pause();
        setTimeout(() => upstream.resume(), (chunk.length / rate) * 1000);
      }
    });
    client.on('drain', () => upstream.resume());
    const close = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    retarget(port: number) {
      targetPort = port;
    },
    get connections() {
      return connections;
    },
    get bytesFromServer() {
      return bytesFromServer;
    },
    cutAfter(bytes) {
      cutAt = bytesFromServer + bytes;
    },
    onceAfter(bytes, action) {
      trigger = { at: bytesFromServer + bytes, action };
    },
    throttle(bytesPerSecond) {
      rate = bytesPerSecond;
    },
    delay(milliseconds) {
      latency = milliseconds;
    },
    cutAll,
    close: () =>
      new Promise<void>((resolve) => {
        cutAll();
        server.close(() => resolve());
      }),
  };
}
