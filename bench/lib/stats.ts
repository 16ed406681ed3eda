/** Timing helpers for the benchmark scripts (never used in tests). */

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of nothing');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Seconds elapsed while running `fn`, by the monotonic clock. */
export function timeIt(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Render rows as an aligned plain-text table (first column left, others right). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A compact description of the machine, for benchmark reports. */
/** `load` is the 1-minute load average when the run started: other work on the machine skews timings. */
export async function machine(): Promise<{ nproc: number; cpu: string; node: string; date: string; load: number }> {
  const os = await import('node:os');
  const { readFileSync } = await import('node:fs');
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpu = m[1];
  } catch {
    // not Linux: keep os.cpus()
  }
  return { nproc: os.availableParallelism(), cpu, node: process.version, date: new Date().toISOString(), load: os.loadavg()[0] ?? 0 };
}
