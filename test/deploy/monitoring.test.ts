/**
 * The shipped Prometheus rules and Grafana dashboards: promtool accepts every
 * rules file, and every metric a rule or a dashboard names exists in our
 * exposition (recorded `peer_observer:*` names must be recorded by our rules).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { HealthRegistry } from '../../src/health/registry.js';
import { registerHttpMetrics } from '../../src/http/metrics.js';
import { fullyPopulatedMetrics } from '../consumers/core-synthetic.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
const rulesFiles = readdirSync(join(DEPLOY, 'prometheus'))
  .filter((f) => f.endsWith('.rules.yml'))
  .map((f) => join(DEPLOY, 'prometheus', f));
const dashboards = readdirSync(join(DEPLOY, 'grafana'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => join(DEPLOY, 'grafana', f));

/** Names with our prefixes in a PromQL expression: raw metrics (peer_observer_*, process_*, nodejs_*) and recorded ones. */
export function metricNames(expr: string): { raw: string[]; recorded: string[] } {
  // Quoted strings (label values, regexes) cannot name metrics: blank them first.
  const code = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  const raw = [...code.matchAll(/(?<![A-Za-z0-9_:])((?:peer_observer|process|nodejs)_[A-Za-z0-9_]+)(?![A-Za-z0-9_:])/g)].map((m) => m[1]!);
  const recorded = [...code.matchAll(/(?<![A-Za-z0-9_:])(peer_observer:[A-Za-z0-9_:]+)/g)].map((m) => m[1]!);
  return { raw, recorded };
}

/** Every `expr:` of a rules file (single-line or folded `>-` blocks) and every `record:` name. */
function parseRules(text: string): { exprs: string[]; records: string[] } {
  const exprs: string[] = [];
  const records: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const rec = /^\s*-?\s*record:\s*(\S+)/.exec(line);
    if (rec) records.push(rec[1]!);
    const m = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (!m) continue;
    if (m[2] !== '' && !/^[>|]-?$/.test(m[2]!)) {
      exprs.push(m[2]!);
      continue;
    }
    const indent = m[1]!.length;
    const block: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || lines[i + 1]!.search(/\S/) > indent)) block.push(lines[++i]!.trim());
    exprs.push(block.join(' '));
  }
  return { exprs, records };
}

function dashboardExprs(file: string): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if ((k === 'expr' || k === 'definition') && typeof x === 'string') out.push(x);
        else if (k === 'query' && typeof x === 'string') out.push(x);
        else walk(x);
      }
    }
  };
  walk(JSON.parse(readFileSync(file, 'utf8')));
  return out;
}

/** Every family filled, with the HTTP server's own series and the health status, as `run --http` registers them. */
function populated(): ReturnType<typeof fullyPopulatedMetrics> {
  const m = fullyPopulatedMetrics();
  const health = new HealthRegistry();
  registerHttpMetrics(m.registry, () => undefined, health);
  health.close();
  return m;
}

/** The families (`# TYPE` names) of our exposition with our prefix, and process_start_time_seconds (mapped in docs/metrics.md). */
async function ourFamilies(): Promise<string[]> {
  const text = await populated().exposition();
  return [...text.matchAll(/^# TYPE (\S+) /gm)]
    .map((m) => m[1]!)
    .filter((n) => n.startsWith('peer_observer_') || n === 'process_start_time_seconds');
}

/** Metric families in the exposition (`# TYPE name kind`), histogram/summary series names included. */
async function exposedNames(): Promise<Set<string>> {
  const m = populated();
  const names = new Set<string>();
  for (const line of (await m.exposition()).split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (!t) continue;
    names.add(t[1]!);
    if (t[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(t[1]! + s);
    if (t[2] === 'summary') for (const s of ['_sum', '_count']) names.add(t[1]! + s);
  }
  return names;
}

describe('shipped monitoring artifacts', () => {
  it('finds the files', () => {
    assert.ok(rulesFiles.length >= 2, 'recording and alerting rules');
    assert.ok(dashboards.length >= 4, 'overview, peers, relay, violations dashboards');
  });

  it('promtool check rules accepts every rules file', (t) => {
    if (spawnSync('promtool', ['--version']).error) return t.skip('promtool not installed (apt-get install prometheus)');
    for (const file of rulesFiles) {
      const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 0, `${file}:\n${r.stdout}${r.stderr}`);
    }
  });

  it('the name extractor sees through strings, functions and suffixes', () => {
    const n = metricNames(
      'sum by (le) (rate(peer_observer_x_bucket{a="peer_observer_not_me"}[5m])) / peer_observer:y:rate1m + process_cpu',
    );
    assert.deepEqual(n.raw, ['peer_observer_x_bucket', 'process_cpu']);
    assert.deepEqual(n.recorded, ['peer_observer:y:rate1m']);
  });

  it('every metric a rule or dashboard names exists in /metrics, every recorded name is recorded', async () => {
    const exposed = await exposedNames();
    const records = new Set<string>();
    const uses: { file: string; expr: string }[] = [];
    for (const file of rulesFiles) {
      const { exprs, records: r } = parseRules(readFileSync(file, 'utf8'));
      r.forEach((x) => records.add(x));
      exprs.forEach((expr) => uses.push({ file, expr }));
    }
    for (const file of dashboards) dashboardExprs(file).forEach((expr) => uses.push({ file, expr }));
    assert.ok(uses.length > 40, `found ${uses.length} expressions`);
    let checked = 0;
    for (const { file, expr } of uses) {
      const { raw, recorded } = metricNames(expr);
      for (const name of raw) {
        assert.ok(exposed.has(name), `${file}: ${name} is not in the exposition (expr: ${expr})`);
        checked++;
      }
      for (const name of recorded) {
        assert.ok(records.has(name), `${file}: ${name} is not recorded by our rules (expr: ${expr})`);
        checked++;
      }
    }
    assert.ok(checked > 40);
  });

  it('every metric family is on some dashboard panel (directly or through a recording rule)', async () => {
    const recordedFrom = new Map<string, string[]>();
    for (const file of rulesFiles) {
      const lines = readFileSync(file, 'utf8').split('\n');
      const { exprs, records } = parseRules(lines.join('\n'));
      // parseRules returns exprs in file order, records likewise; alerting rules have exprs without records.
      if (records.length > 0)
        records.forEach((r, i) => recordedFrom.set(r, metricNames(exprs[i]!).raw.concat(metricNames(exprs[i]!).recorded)));
    }
    const onPanels = new Set<string>();
    const add = (name: string, depth = 0): void => {
      if (depth > 5) return;
      if (name.includes(':')) for (const n of recordedFrom.get(name) ?? []) add(n, depth + 1);
      else onPanels.add(name.replace(/_(bucket|sum|count)$/, ''));
    };
    for (const file of dashboards)
      for (const expr of dashboardExprs(file)) {
        const { raw, recorded } = metricNames(expr);
        raw.forEach((n) => add(n));
        recorded.forEach((n) => add(n));
      }
    const families = await ourFamilies();
    assert.ok(families.length > 60, `${families.length} families`);
    const missing = families.filter((f) => !onPanels.has(f));
    assert.deepEqual(missing, [], `families on no dashboard panel: ${missing.join(', ')}`);
  });

  it("promtool test rules: the inbound-drop alerts fire on a drop and not after our restart or the node's", (t) => {
    if (spawnSync('promtool', ['--version']).error) return t.skip('promtool not installed (apt-get install prometheus)');
    const dir = join(DEPLOY, 'prometheus', 'tests');
    const tests = readdirSync(dir).filter((f) => f.endsWith('.test.yml'));
    assert.ok(tests.length >= 1);
    for (const f of tests) {
      const r = spawnSync('promtool', ['test', 'rules', f], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, `${f}:\n${r.stdout}${r.stderr}`);
    }
  });
});
