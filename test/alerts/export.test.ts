/**
 * End to end on an embedded bus: the recorded addr flood through the detectors
 * (run as `run` runs them) into the archive, then `incidents export` as JSON
 * and Markdown, with and without redaction; and the `! ALERT` log line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { EmbeddedBus } from '../../src/bus/embedded.js';
import { startArchive } from '../../src/consumers/archive/consumer.js';
import { startAlerting } from '../../src/consumers/detectors/alerting.js';
import { formatText } from '../../src/consumers/logger/format.js';
import { exportIncident } from '../../src/cli/incidents.js';
import type { IncidentReport } from '../../src/consumers/alerts/report.js';
import type { ObserverEvent } from '../../src/events/types.js';
import { recordingEvents } from '../detectors/helpers.js';

const NODE = 'fra-1';
let dir: string;
let incidentId: string;
let alertLine = '';

function io() {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  return { io: { stdout: out, stderr: new PassThrough() }, text: () => text };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'po-incidents-'));
  const bus = new EmbeddedBus();
  const archive = startArchive(bus, { dataDir: dir });
  const alerting = startAlerting(bus, { nodeId: NODE, config: {}, webhooks: [] });
  const lines = bus.subscribe({ types: ['alert'] });
  const collected = (async () => {
    for await (const e of lines) alertLine ||= formatText(e);
  })();
  // The recording, as this observer at 198.51.100.20:8333 saw it.
  for (const e of recordingEvents('v1-attacks/addrflood', NODE)) {
    const own = e.type === 'connection.opened' ? ({ ...e, data: { ...e.data, local: '198.51.100.20:8333' } } as ObserverEvent) : e;
    bus.publish(own);
  }
  await bus.drain();
  alerting.flush();
  await bus.close();
  await Promise.all([archive.done, alerting.stop(), collected]);
  const [incident] = alerting.manager.store.incidents();
  assert.ok(incident);
  incidentId = incident.id;
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('incidents export', () => {
  it('logs the alert as a ! ALERT line', () => {
    assert.match(alertLine, /^! ALERT (warning|critical) addr-flood .* fra-1 peer=127\.0\.0\.1:50412 raised /);
  });

  it('json from the archive: incident, alerts with evidence and samples, timeline', async () => {
    const o = io();
    await exportIncident({ id: incidentId, format: 'json', redact: false, redactNodeIds: false, dataDir: dir }, o.io);
    const parsed = JSON.parse(o.text()) as IncidentReport;
    assert.equal(parsed.incident.id, incidentId);
    assert.equal(parsed.alerts[0]!.detector, 'addr-flood');
    assert.equal(parsed.alerts[0]!.evidence.counts['addrEntries'], 5000);
    assert.ok(parsed.alerts[0]!.evidence.samples.length > 0);
    assert.ok(parsed.timeline.length >= 1);
    assert.deepEqual(parsed.observers, [NODE]);
    assert.equal(parsed.redacted, false);
  });

  it('md, redacted: no own address, no node id; the attacker stays', async () => {
    const plain = io();
    await exportIncident({ id: incidentId, format: 'md', redact: false, redactNodeIds: false, dataDir: dir }, plain.io);
    assert.match(plain.text(), /# Incident /);
    assert.match(plain.text(), /fra-1/);
    const o = io();
    await exportIncident({ id: incidentId, format: 'md', redact: true, redactNodeIds: true, dataDir: dir }, o.io);
    const md = o.text();
    assert.match(md, /## Timeline/);
    assert.match(md, /## Alerts/);
    assert.match(md, /127\.0\.0\.1:50412/, 'the attacking peer is kept');
    assert.doesNotMatch(md, /fra-1/);
    assert.doesNotMatch(md, /198\.51\.100\.20/);
    const j = io();
    await exportIncident({ id: incidentId, format: 'json', redact: true, redactNodeIds: false, dataDir: dir }, j.io);
    assert.match(j.text(), /fra-1/);
    assert.equal((JSON.parse(j.text()) as { redacted: boolean }).redacted, true);
  });

  it('errors: unknown incident, both or neither source', async () => {
    await assert.rejects(
      exportIncident({ id: 'i-nope', format: 'md', redact: false, redactNodeIds: false, dataDir: dir }, io().io),
      /not in the archive/,
    );
    await assert.rejects(exportIncident({ id: incidentId, format: 'md', redact: false, redactNodeIds: false }, io().io), /exactly one of/);
  });
});
