/**
 * The collective's hub as we ship it, for tests: deploy/collective/nats-server.conf
 * run by a real nats-server (only its addresses, passwords and store directory
 * rewritten for loopback), its reports stream created from
 * deploy/collective/reports-stream.json by the operator user, and members'
 * own servers from deploy/collective/leaf.conf joining it as leaf nodes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { freePort, startNatsServer, type NatsServer } from './nats-server.js';

const DEPLOY = new URL('../../deploy/collective/', import.meta.url).pathname;
export const HUB_MEMBERS = ['alice', 'bob', 'carol'] as const;
export const hubPassword = (user: string): string => `pw-${user}-0123456789`;

/** `text` with each `[from, to]` replaced; throws when one is not there (the shipped file changed shape). */
function rewrite(file: string, pairs: [string | RegExp, string][]): string {
  let text = readFileSync(join(DEPLOY, file), 'utf8');
  for (const [from, to] of pairs) {
    const next = text.replace(from, to);
    if (next === text) throw new Error(`deploy/collective/${file}: ${String(from)} not found`);
    text = next;
  }
  return text;
}

export function shippedStreamConfig(): StreamConfig {
  return JSON.parse(readFileSync(join(DEPLOY, 'reports-stream.json'), 'utf8')) as StreamConfig;
}

export interface CollectiveHub {
  server: NatsServer;
  port: number;
  leafPort: number;
  monitorPort: number;
  /** The hub's operator user (all permissions): manages the stream, may read everything. */
  operator: NatsConnection;
  jsm: JetStreamManager;
  /** nats://<member>:<password>@127.0.0.1:<port> */
  url(member: string): string;
  /** The stream's per-subject message counts (what it holds of each member now). */
  held(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/** `stream: false`: without the reports stream (for `collective hub-setup` to create). */
export async function startCollectiveHub(o: { stream?: boolean } = {}): Promise<CollectiveHub> {
  const [port, leafPort, monitorPort] = [await freePort(), await freePort(), await freePort()];
  const store = mkdtempSync(join(tmpdir(), 'po-hub-js-'));
  const text =
    rewrite('nats-server.conf', [
      ['listen: "0.0.0.0:4222"', `listen: "127.0.0.1:${port}"`],
      ['listen: "0.0.0.0:7422"', `listen: "127.0.0.1:${leafPort}"`],
      ['/var/lib/nats/jetstream', store],
      [/CHANGE-ME-(\w+)/g, 'pw-$1-0123456789'],
    ]) + `\nhttp: "127.0.0.1:${monitorPort}"\n`;
  let server: NatsServer;
  try {
    server = await startNatsServer({ port, configText: text });
  } catch (e) {
    rmSync(store, { recursive: true, force: true });
    throw e;
  }
  const operator = await connect({ servers: server.url, user: 'operator', pass: hubPassword('operator') });
  const jsm = await jetstreamManager(operator);
  const config = shippedStreamConfig();
  if (o.stream !== false) await jsm.streams.add(config);
  return {
    server,
    port,
    leafPort,
    monitorPort,
    operator,
    jsm,
    url: (m) => `nats://${m}:${hubPassword(m)}@127.0.0.1:${port}`,
    async held() {
      const info = await jsm.streams.info(config.name, { subjects_filter: '>' });
      return info.state.subjects ?? {};
    },
    async stop() {
      await operator.close().catch(() => undefined);
      await server.stop();
      rmSync(store, { recursive: true, force: true });
    },
  };
}

/**
 * A member's own nats-server from deploy/collective/leaf.conf, joined to the hub
 * as `member`, with the JetStream of its own that the file describes (as an
 * observer's durable bus would have); resolves once the hub has the link.
 */
export async function startLeaf(hub: CollectiveHub, member: string): Promise<NatsServer & { stopAll(): Promise<void> }> {
  const port = await freePort();
  const store = mkdtempSync(join(tmpdir(), 'po-leaf-js-'));
  const text = rewrite('leaf.conf', [
    ['listen: "127.0.0.1:4222"', `listen: "127.0.0.1:${port}"`],
    [/nats-leaf:\/\/alice:CHANGE-ME-alice@hub\.example:7422/, `nats-leaf://${member}:${hubPassword(member)}@127.0.0.1:${hub.leafPort}`],
    ['# jetstream { store_dir: "/var/lib/nats/jetstream", domain: "alice" }', `jetstream { store_dir: "${store}", domain: "${member}" }`],
  ]);
  const leaf = await startNatsServer({ port, configText: text });
  await untilLeaf(hub, (l) => l.length === 1, 'the leaf node link');
  return {
    ...leaf,
    async stopAll() {
      await leaf.stop();
      rmSync(store, { recursive: true, force: true });
    },
  };
}

interface Leafz {
  leafs?: { account: string; subscriptions: number; subscriptions_list?: string[] }[];
}

/** Poll the hub's /leafz until `pred` holds of its leaf connections. */
export async function untilLeaf(hub: CollectiveHub, pred: (leafs: NonNullable<Leafz['leafs']>) => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${hub.monitorPort}/leafz?subs=1`);
    const body = (await res.json()) as Leafz;
    if (pred(body.leafs ?? [])) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
