/**
 * `peer-observer incidents export ID --format md|json [--redact] [--redact-node-ids]
 *  (--data-dir DIR | --url http://127.0.0.1:PORT)`: a shareable incident report,
 * from the archive's alert/incident events (the latest state of each) or from
 * a running observer's HTTP API.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { openArchiveForReading } from '../consumers/archive/db.js';
import { readMatching } from '../consumers/archive/query.js';
import { buildReport, renderMarkdown, type IncidentReport } from '../consumers/alerts/report.js';
import type { Alert, Incident } from '../consumers/alerts/types.js';
import { parseEvent } from '../events/schema.js';
import { ownAddressesFromAlerts } from '../http/api.js';
import { UsageError, RuntimeError, describeError } from './errors.js';
import type { Io } from './pipeline.js';

export interface ExportOptions {
  id: string;
  format: 'md' | 'json';
  redact: boolean;
  redactNodeIds: boolean;
  dataDir?: string;
  url?: string;
  token?: string;
  output?: string;
}

interface Gathered {
  incident: Incident;
  alerts: Alert[];
  ownAddresses: string[];
}

/** The latest state of the incident and its alerts, and the observers' own addresses, from the archive. */
export function gatherFromArchive(dataDir: string, id: string): Gathered {
  const db = openArchiveForReading(dataDir);
  try {
    let incident: Incident | undefined;
    const alerts = new Map<string, Alert>();
    const own = new Set<string>();
    for (const row of readMatching(db, { types: ['incident', 'alert', 'connection.opened', 'handshake.version'] })) {
      const e = parseEvent(JSON.parse(row.envelope));
      if (e.type === 'incident' && e.data.id === id) incident = e.data;
      else if (e.type === 'alert' && e.data.incidentId === id) alerts.set(e.data.id, e.data);
      else if (e.type === 'connection.opened' && e.data.local) own.add(e.data.local);
      else if (e.type === 'handshake.version' && e.data.receiver) own.add(e.data.receiver);
    }
    if (!incident) throw new UsageError(`incident ${JSON.stringify(id)}: not in the archive at ${dataDir}`);
    return { incident, alerts: [...alerts.values()], ownAddresses: [...own] };
  } finally {
    db.close();
  }
}

export async function gatherFromHttp(url: string, id: string, token?: string): Promise<Gathered> {
  const base = url.replace(/\/+$/, '');
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const res = await fetch(`${base}/api/incidents/${encodeURIComponent(id)}`, { headers, signal: AbortSignal.timeout(10_000) });
  if (res.status === 404) throw new UsageError(`incident ${JSON.stringify(id)}: not known to ${base}`);
  if (!res.ok) throw new RuntimeError(`${base}: HTTP ${res.status}`);
  const body = (await res.json()) as Incident & { alerts?: Alert[] };
  const { alerts = [], ...incident } = body;
  const checked = parseEvent({ v: 1, type: 'incident', nodeId: 'http', timeUs: 0, source: 'http', data: incident });
  const checkedAlerts: Alert[] = [];
  for (const a of alerts) {
    const e = parseEvent({ v: 1, type: 'alert', nodeId: 'http', timeUs: 0, source: 'http', data: a });
    if (e.type === 'alert') checkedAlerts.push(e.data);
  }
  return { incident: checked.data as Incident, alerts, ownAddresses: ownAddressesFromAlerts(checkedAlerts) };
}

export async function exportIncident(o: ExportOptions, io: Io): Promise<IncidentReport> {
  if ((o.dataDir === undefined) === (o.url === undefined))
    throw new UsageError('incidents export: give exactly one of --data-dir DIR or --url http://127.0.0.1:PORT');
  let g: Gathered;
  try {
    g = o.dataDir !== undefined ? gatherFromArchive(o.dataDir, o.id) : await gatherFromHttp(o.url!, o.id, o.token);
  } catch (err) {
    if (err instanceof UsageError || err instanceof RuntimeError) throw err;
    throw new RuntimeError(describeError(err));
  }
  const report = buildReport(g.incident, g.alerts, o.redact ? { ownAddresses: g.ownAddresses, nodeIds: o.redactNodeIds } : undefined);
  const text = o.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderMarkdown(report);
  if (o.output !== undefined) writeFileSync(o.output, text);
  else io.stdout.write(text);
  return report;
}

export function registerIncidents(incidents: Command, context: { io: Io; env: NodeJS.ProcessEnv }): void {
  incidents
    .command('export <id>')
    .description('write a self-contained incident report (timeline, alerts, evidence, subjects, netgroups)')
    .option('--format <format>', 'md or json', 'md')
    .option('--redact', "replace the observers' own addresses with placeholders, for sharing")
    .option('--redact-node-ids', 'with --redact: also replace observer node ids')
    .option('--data-dir <dir>', 'read the alert and incident events from this archive')
    .option('--url <url>', 'read from a running observer (its --http address), e.g. http://127.0.0.1:9333')
    .option('--token <token>', 'bearer token for --url (default: PEER_OBSERVER_HTTP_TOKEN)')
    .option('-o, --output <file>', 'write here instead of stdout')
    .action(
      async (
        id: string,
        opts: {
          format: string;
          redact?: boolean;
          redactNodeIds?: boolean;
          dataDir?: string;
          url?: string;
          token?: string;
          output?: string;
        },
      ) => {
        if (opts.format !== 'md' && opts.format !== 'json')
          throw new UsageError(`--format ${JSON.stringify(opts.format)}: expected md or json`);
        if (opts.redactNodeIds && !opts.redact) throw new UsageError('--redact-node-ids needs --redact');
        const token = opts.token ?? context.env['PEER_OBSERVER_HTTP_TOKEN'];
        await exportIncident(
          {
            id,
            format: opts.format,
            redact: opts.redact ?? false,
            redactNodeIds: opts.redactNodeIds ?? false,
            ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
            ...(opts.url !== undefined ? { url: opts.url } : {}),
            ...(token !== undefined ? { token } : {}),
            ...(opts.output !== undefined ? { output: opts.output } : {}),
          },
          context.io,
        );
      },
    );
}
