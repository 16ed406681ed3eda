/**
 * The top-N label rule for values peers influence but that we want by name
 * (user agents, ASNs): the N most common values keep their text, everything
 * else is summed as `other`, and values named in `keep` (e.g. `unmapped`)
 * always keep theirs. The number of series is at most N + 1 + keep.length.
 */
import { OTHER } from './labels.js';

export class TopLabels {
  constructor(
    private readonly n: number,
    private readonly keep: ReadonlySet<string> = new Set(['unmapped']),
  ) {}

  /** Label and count pairs for the given counts (ties broken by name, so the result is stable). */
  top(counts: ReadonlyMap<string, number>): [string, number][] {
    const out: [string, number][] = [];
    let other = 0;
    let named = 0;
    const sorted = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    for (const [label, n] of sorted) {
      if (this.keep.has(label)) out.push([label, n]);
      else if (named < this.n && label !== OTHER) {
        out.push([label, n]);
        named++;
      } else other += n;
    }
    if (other > 0) out.push([OTHER, other]);
    return out;
  }
}
