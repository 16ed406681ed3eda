/**
 * `peer-observer run`: the observer node until SIGINT/SIGTERM, with the logger
 * on an embedded bus, or, with `--nats`, publishing its events to NATS for
 * consumers in other processes (`peer-observer log --nats ...`).
 */
import { networkByName } from '../protocol/networks.js';
import type { RunConfig } from './config.js';
import { aborted, endpointText, startPipeline, type Io } from './pipeline.js';
import { coreSourceComponents } from './core-sources.js';
import type { Component, ComponentContext, Counters } from '../runtime/component.js';
import type { MimicNode } from '../sources/p2p/mimic/node.js';
import { redactUrl } from '../sources/rpc/client.js';
import { startMimic, type RunningMimic } from '../sources/p2p/mimic/start.js';
import { DEFAULT_BUDGET } from '../sources/p2p/mimic/budget.js';
import { RuntimeError, describeError } from './errors.js';
import { natsCredentials } from '../bus/nats.js';

export async function run(config: RunConfig, signal: AbortSignal, io: Io): Promise<void> {
  const network = networkByName(config.network);
  const mimic = config.mimic && config.core.rpc ? new MimicComponent(config) : undefined;
  const core = coreSourceComponents(config.core, { nodeId: config.nodeId, network: network.name });
  const pipeline = await startPipeline(
    {
      ...(mimic ? { mimic: () => mimic.node } : {}),
      network,
      nodeId: config.nodeId,
      listen: config.listen,
      connect: config.connect,
      json: config.json,
      limits: config.limits,
      nats: config.nats,
      natsEncoding: config.natsEncoding,
      natsMode: config.natsMode,
      archive: config.archive,
      http: config.http,
      connectivity: config.connectivity,
      detectors: config.detectors,
      v2: config.v2,
      collective: config.collective,
      io,
      stream: config.stream,
      p2p: config.p2p,
    },
    { beforeObserver: mimic ? [mimic] : [], sources: core },
  );
  const where = pipeline.listening.map(endpointText).join(', ') || 'nowhere';
  const role = config.p2p ? `listening on ${where}` : 'without a p2p node (--no-p2p)';
  // Credentials in a URL are never printed.
  const natsAt = natsCredentials(config.nats).servers.join(', ');
  const consuming = !config.p2p && config.nats.length ? `; consuming from NATS at ${natsAt}` : '';
  const to = config.connect.length ? `; connecting to ${config.connect.map(endpointText).join(', ')}` : '';
  const nats = config.nats.length ? `; publishing to NATS at ${natsAt}` : '';
  const cap = pipeline.archive?.cap;
  const archive = config.archive ? `; archiving to ${config.archive.dataDir}` + (cap ? ` (${cap.describe})` : '') : '';
  const http = pipeline.http
    ? `; HTTP at ${pipeline.http.server.url}${config.http?.token ? ' (token required)' : ''}; dashboard at ${pipeline.http.server.url}/` +
      (config.http?.asn ? ` (ASNs from ${config.http.asn.source})` : '') +
      (pipeline.http.server.allowedHosts.length ? `; HTTP answers to ${pipeline.http.server.allowedHosts.join(', ')} besides loopback` : '')
    : '';
  const watching = core.length ? `; watching ${core.map((c) => c.describe).join(', ')}` : '';
  const connectivity = config.connectivity
    ? `; connectivity check on${config.connectivity.allowLoopback ? ' (loopback allowed)' : ''}`
    : '';
  const mimicking = mimic ? `; mimicking ${redactUrl(config.core.rpc!.url)} (${mimic.node.backend.identity?.subversion ?? '?'})` : '';
  io.stderr.write(
    `peer-observer: ${network.name} node ${config.nodeId} ${role}${to}${mimicking}${watching}${consuming}${nats}${archive}${http}${connectivity}\n`,
  );
  await aborted(signal);
  // The runtime stops the Core sources first, the bus last: their last events (counters) go out before it closes.
  await pipeline.stop();
}

/** `--mimic`: the backend must answer before the observer starts (its identity is every version message). */
class MimicComponent implements Component {
  readonly name = 'p2p.mimic';
  readonly source = 'p2p';
  #mimic: RunningMimic | undefined;
  constructor(private readonly config: RunConfig) {}
  get node(): MimicNode {
    if (!this.#mimic) throw new Error('p2p.mimic is not started');
    return this.#mimic.node;
  }
  async start(context: ComponentContext): Promise<void> {
    const config = this.config;
    const rpc = config.core.rpc!;
    const budget = {
      ...DEFAULT_BUDGET,
      ...(config.mimic?.peerBudgetBytes !== undefined ? { perPeerBytes: config.mimic.peerBudgetBytes } : {}),
      ...(config.mimic?.globalBudgetBytes !== undefined ? { globalBytes: config.mimic.globalBudgetBytes } : {}),
    };
    const bus = context.bus;
    try {
      this.#mimic = await startMimic({
        url: rpc.url,
        auth: rpc.auth,
        nodeId: config.nodeId,
        publish: (e) => bus.publish(e),
        budget,
        // NODE_P2P_V2 in the mimic's version message exactly when we speak v2 (--v2, the default).
        v2: config.v2,
        ...(config.mimic?.externalAddresses ? { externalAddresses: config.mimic.externalAddresses } : {}),
        status: context.notice,
        publishCounters: false,
      });
    } catch (err) {
      throw new RuntimeError(`--mimic: the backend ${redactUrl(rpc.url)} does not answer: ${describeError(err)}`);
    }
  }
  counters(): Counters {
    return this.#mimic?.node.stats() ?? {};
  }
  stop(): void {
    this.#mimic?.stop();
  }
}
