/**
 * `peer-observer collective hub-setup --server URL --trust collective.json [--check]`:
 * the hub's reports stream (src/collective/hub.ts) created, or updated to the
 * trust file's limits, by the hub's operator user; with `--check`, only
 * compared (exit 1 when it is missing or differs). One line on stdout: what
 * was done and the quota in force.
 */
import type { Command } from 'commander';
import { connect } from '@nats-io/transport-node';
import { hasJetStream } from '../bus/jetstream.js';
import { ensureHubStream, hubStreamConfig, hubStreamDifferences, HUB_STREAM } from '../collective/hub.js';
import { natsCredentials } from '../collective/member.js';
import { loadTrust } from '../collective/trust.js';
import { RuntimeError, UsageError, describeError } from './errors.js';
import type { Io } from './pipeline.js';

export async function hubSetup(o: { server: string; trust: string; check?: boolean }, io: Io): Promise<void> {
  let trust;
  try {
    trust = loadTrust(o.trust);
  } catch (err) {
    throw new UsageError(`--trust: ${describeError(err)}`);
  }
  let creds;
  try {
    creds = natsCredentials([o.server]);
  } catch {
    throw new UsageError(`--server ${JSON.stringify(o.server)}: expected a NATS URL, like nats://operator:password@hub.example:4222`);
  }
  const want = hubStreamConfig(trust.limits);
  const quota = `${want.max_msgs_per_subject} reports a minute per member, each at most ${want.max_msg_size} bytes`;
  let nc;
  try {
    nc = await connect({ ...creds, name: 'peer-observer collective hub-setup', timeout: 5000 });
  } catch (err) {
    throw new RuntimeError(`cannot connect to ${creds.servers.join(', ')}: ${describeError(err)}`);
  }
  try {
    const jsm = await hasJetStream(nc);
    if (!jsm)
      throw new RuntimeError(
        'the hub has no JetStream for this user (a jetstream {} block in its configuration, and the operator user: deploy/collective/nats-server.conf)',
      );
    if (o.check) {
      const have = await jsm.streams.info(HUB_STREAM).catch(() => undefined);
      if (!have) throw new RuntimeError(`stream ${HUB_STREAM} does not exist: run collective hub-setup without --check`);
      const differences = hubStreamDifferences(have.config, want);
      if (differences.length) throw new RuntimeError(`stream ${HUB_STREAM} differs from ${o.trust}: ${differences.join('; ')}`);
      io.stdout.write(`checked: ${HUB_STREAM} as ${o.trust} says: ${quota}\n`);
      return;
    }
    const r = await ensureHubStream(jsm, want);
    const what = r.created ? 'created' : r.differences.length ? `updated (${r.differences.join('; ')})` : 'checked, as asked';
    io.stdout.write(`${what}: ${HUB_STREAM}, collective.in.* → collective.reports.*, ${quota}\n`);
  } catch (err) {
    if (err instanceof RuntimeError) throw err;
    throw new RuntimeError(`stream ${HUB_STREAM}: ${describeError(err)}`);
  } finally {
    await nc.close();
  }
}

export function registerHubSetup(collective: Command, context: { io: Io }): void {
  collective
    .command('hub-setup')
    .description(
      "create or update the hub's reports stream (each member's rate and report size, from the trust file), as the hub's operator user",
    )
    .requiredOption('--server <url>', 'the hub, as its operator user: nats://operator:password@host:4222')
    .requiredOption('--trust <file>', "the collective's trust file: its maxReportsPerMinute and maxReportBytes become the stream's")
    .option('--check', 'only compare the stream with the trust file: exit 1 when it is missing or differs')
    .action(async (opts: { server: string; trust: string; check?: boolean }) => {
      await hubSetup(opts, context.io);
    });
}
