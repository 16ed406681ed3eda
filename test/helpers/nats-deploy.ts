/**
 * The three-server cluster of deploy/nats/ (docs/bus.md, "Scale-out
 * deployment") as shipped, on loopback: each nats-a/b/c.conf is read and only
 * what names this machine is rewritten (the client and route listen addresses,
 * the route hosts, the store directory). A rewrite whose text is gone throws,
 * naming the file, so a change to the shipped files breaks the test instead
 * of leaving it testing a copy.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startNatsServer, type NatsServer } from './nats-server.js';

const NAMES = ['a', 'b', 'c'] as const;

function rewrite(file: string, text: string, pairs: readonly (readonly [string, string])[]): string {
  for (const [from, to] of pairs) {
    if (!text.includes(from)) throw new Error(`deploy/nats/${file}: ${JSON.stringify(from)} not found`);
    text = text.split(from).join(to);
  }
  return text;
}

/** The shipped servers, started in order a, b, c; each one's server_name is `nats-<letter>`, as shipped. */
export async function startShippedCluster(): Promise<NatsServer[]> {
  const ports = await Promise.all(NAMES.map(() => freePort()));
  const routePorts = await Promise.all(NAMES.map(() => freePort()));
  const servers: NatsServer[] = [];
  try {
    for (const [i, name] of NAMES.entries()) {
      const file = `nats-${name}.conf`;
      const storeDir = mkdtempSync(join(tmpdir(), `po-deploy-${name}-`));
      const configText = rewrite(file, readFileSync(new URL(`../../deploy/nats/${file}`, import.meta.url), 'utf8'), [
        ['listen: 0.0.0.0:4222', `listen: 127.0.0.1:${ports[i]}`],
        ['listen: 0.0.0.0:6222', `listen: 127.0.0.1:${routePorts[i]}`],
        ...NAMES.map((other, j) => [`nats-route://nats-${other}:6222`, `nats-route://127.0.0.1:${routePorts[j]}`] as const),
        ['store_dir: /var/lib/nats/jetstream', `store_dir: "${storeDir}"`],
      ]);
      servers.push(await startNatsServer({ configText, port: ports[i]!, clusterPort: routePorts[i]!, jetstream: true, storeDir }));
    }
  } catch (e) {
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
    throw e;
  }
  return servers;
}
