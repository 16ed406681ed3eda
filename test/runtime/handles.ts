/** What the start-up failure tests share: the process's active handles, and a plan with one step made to fail. */
import type { Component } from '../../src/runtime/component.js';

export function resources(): string[] {
  return process.getActiveResourcesInfo().sort();
}

/** Wait (bounded) until the active resources are back to `before`; closing a socket or thread settles a tick or two later. */
export async function settledTo(before: string[]): Promise<string[]> {
  const deadline = Date.now() + 5000;
  let now = resources();
  while (JSON.stringify(now) !== JSON.stringify(before) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    now = resources();
  }
  return now;
}

/** The components with the one at `at` made to fail: before its own start, or after it (what it had acquired is then its stop's to release). */
export function failingAt(components: readonly Component[], at: number, when: 'before' | 'after'): Component[] {
  return components.map((c, i) => {
    if (i !== at) return c;
    const start = c.start.bind(c);
    return Object.assign(Object.create(c) as Component, {
      name: c.name,
      start: async (ctx: Parameters<Component['start']>[0]) => {
        if (when === 'after') await start(ctx);
        throw new Error(`injected failure at ${c.name}`);
      },
      stop: () => c.stop(),
      counters: () => c.counters(),
    });
  });
}

/** The active resources once they stop changing (a closed connection's socket lingers a moment): a baseline. */
export async function quietResources(): Promise<string[]> {
  let last = resources();
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = resources();
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
  }
  return last;
}
