/**
 * `peer-observer run`: the observer node until SIGINT/SIGTERM, with the logger
 * on an embedded bus, or, with `--nats`, publishing its events to NATS for
 * consumers in other processes (`peer-observer log --nats ...`).
 */
import { networkByName } from '../protocol/networks.js';
import type { RunConfig } from './config.js';
import { aborted, endpointText, startPipeline, type Io } from './pipeline.js';
import { startCoreSources } from './core-sources.js';
import type { ObserverEvent } from '../events/types.js';
import { redactUrl } from '../sources/rpc/client.js';
import { startMimic, type RunningMimic } from '../sources/p2p/mimic/start.js';
import { DEFAULT_BUDGET } from '../sources/p2p/mimic/budget.js';
import { RuntimeError, describeError } from './errors.js';
import { natsCredentials } from '../bus/nats.js';

export async function run(config: RunConfig, signal: AbortSignal, io: Io): Promise<void> {
  const network = networkByName(config.network);
  let publishMimic: (e: ObserverEvent) => void = () => {};
  const mimic = config.mimic && config.core.rpc ? await startRunMimic(config, (e) => publishMimic(e), io) : undefined;
  const pipeline = await startPipeline({
    ...(mimic ? { mimic: mimic.node } : {}),
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
  });
  publishMimic = (e) => pipeline.bus.publish(e);
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
  const core = startCoreSources(config.core, {
    nodeId: config.nodeId,
    network: network.name,
    publish: (e) => pipeline.bus.publish(e),
    status: (line) => io.stderr.write(`peer-observer: ${line}\n`),
  });
  const watching = core.describe().length ? `; watching ${core.describe().join(', ')}` : '';
  const connectivity = config.connectivity
    ? `; connectivity check on${config.connectivity.allowLoopback ? ' (loopback allowed)' : ''}`
    : '';
  const mimicking = mimic ? `; mimicking ${redactUrl(config.core.rpc!.url)} (${mimic.node.backend.identity?.subversion ?? '?'})` : '';
  io.stderr.write(
    `peer-observer: ${network.name} node ${config.nodeId} ${role}${to}${mimicking}${watching}${consuming}${nats}${archive}${http}${connectivity}\n`,
  );
  await aborted(signal);
  mimic?.stop();
  // The Core sources' last events (counters) go out before the bus closes.
  await core.stop();
  await pipeline.stop();
}

/** `--mimic`: the backend must answer before the observer starts (its identity is every version message). */
async function startRunMimic(config: RunConfig, publish: (e: ObserverEvent) => void, io: Io): Promise<RunningMimic> {
  const rpc = config.core.rpc!;
  const budget = {
    ...DEFAULT_BUDGET,
    ...(config.mimic?.peerBudgetBytes !== undefined ? { perPeerBytes: config.mimic.peerBudgetBytes } : {}),
    ...(config.mimic?.globalBudgetBytes !== undefined ? { globalBytes: config.mimic.globalBudgetBytes } : {}),
  };
  try {
    return await startMimic({
      url: rpc.url,
      auth: rpc.auth,
      nodeId: config.nodeId,
      publish,
      budget,
      // NODE_P2P_V2 in the mimic's version message exactly when we speak v2 (--v2, the default).
      v2: config.v2,
      ...(config.mimic?.externalAddresses ? { externalAddresses: config.mimic.externalAddresses } : {}),
      status: (line) => io.stderr.write(`peer-observer: ${line}\n`),
    });
  } catch (err) {
    throw new RuntimeError(`--mimic: the backend ${redactUrl(rpc.url)} does not answer: ${describeError(err)}`);
  }
}
