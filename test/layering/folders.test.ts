/**
 * Folder-level layering of src/, read from the import statements: the
 * detectors import the alert manager, so alerts/ must not reach back into
 * detectors/ (directly or through another folder). The graph is built from
 * every relative `import`/`export ... from` in src/**.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/** folder → the folders it imports from (relative imports only; `web/` is a separate package). */
export function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const spec = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"](\.[^'"]+)['"]/g;
  for (const file of files(SRC)) {
    const from = relative(SRC, dirname(file));
    if (from.startsWith('web')) continue;
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const m of readFileSync(file, 'utf8').matchAll(spec)) {
      const to = relative(SRC, dirname(resolve(dirname(file), m[1]!)));
      if (to !== from && !to.startsWith('..')) edges.add(to);
    }
  }
  return graph;
}

function reaches(graph: Map<string, Set<string>>, from: string, to: string): string[] | null {
  const seen = new Set<string>([from]);
  const queue: string[][] = [[from]];
  while (queue.length) {
    const path = queue.shift()!;
    for (const next of graph.get(path.at(-1)!) ?? []) {
      if (next === to) return [...path, next];
      if (!seen.has(next)) {
        seen.add(next);
        queue.push([...path, next]);
      }
    }
  }
  return null;
}

test('the graph sees real imports (the detectors import the alert manager)', () => {
  const graph = folderGraph();
  assert.ok(graph.get('consumers/detectors')?.has('consumers/alerts'));
  assert.ok(graph.get('cli')?.has('runtime'));
});

test('no folder-level cycle between consumers/detectors and consumers/alerts', () => {
  const back = reaches(folderGraph(), 'consumers/alerts', 'consumers/detectors');
  assert.equal(back, null, `alerts reaches detectors: ${back?.join(' → ')}`);
});

test('the runtime depends on nothing but the bus and the event envelope', () => {
  const out = [...(folderGraph().get('runtime') ?? [])].sort();
  assert.deepEqual(out, ['bus', 'events']);
});

test('http/ and collective/ read addresses from net/, not from the detectors', () => {
  const graph = folderGraph();
  for (const from of ['http', 'collective', 'consumers/metrics', 'consumers/relay']) {
    assert.ok(!graph.get(from)?.has('consumers/detectors'), `${from} imports consumers/detectors`);
  }
  assert.ok(graph.get('http')?.has('net'));
});
