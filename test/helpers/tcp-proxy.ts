/**
 * A TCP proxy on loopback for fault tests: forwards each connection to a
 * target port, and can hold back what the target sends (`holdAfter(n)`: after
 * n more bytes, nothing more is forwarded) and then cut every connection open
 * now (`cut()`: what was held back is lost), as a connection that dies with
 * data in it.
 * New connections after a cut are forwarded normally.
 */
import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  url: string;
  /** On the connections open now, forward `bytes` more of what the target sends, then hold the rest back. */
  holdAfter(bytes: number): void;
  /** Bytes held back so far. */
  held(): number;
  /** Destroy every connection open now; what was held is lost. */
  cut(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; target: Socket; budget: number }>();
  let heldBytes = 0;
  const server = createServer((client) => {
    const target = connect(targetPort, '127.0.0.1');
    const pair = { client, target, budget: Infinity };
    pairs.add(pair);
    client.on('data', (d) => target.write(d));
    target.on('data', (d: Buffer) => {
      const pass = Math.min(d.length, pair.budget);
      pair.budget -= pass;
      if (pass > 0) client.write(pass === d.length ? d : d.subarray(0, pass));
      heldBytes += d.length - pass;
    });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      target.destroy();
    };
    client.on('close', end).on('error', end);
    target.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const cut = (): void => {
    for (const p of [...pairs]) {
      p.client.destroy();
      p.target.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    holdAfter(bytes) {
      for (const p of pairs) p.budget = bytes;
    },
    held: () => heldBytes,
    cut,
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
