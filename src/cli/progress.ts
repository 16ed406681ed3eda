/**
 * A one-line progress bar on a terminal (`\r`-redrawn, at most every 100 ms);
 * nothing at all when the stream is not a TTY (a file, a pipe, a test).
 */
import type { Writable } from 'node:stream';

const WIDTH = 30;

export class ProgressBar {
  private readonly enabled: boolean;
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly out: Writable,
    private readonly total: number,
    private readonly label: string,
    private readonly unit = '',
  ) {
    this.enabled = (out as { isTTY?: boolean }).isTTY === true;
  }

  update(done: number, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.drawn = true;
    this.out.write(`\r${renderBar(done, this.total, this.label, this.unit)}\x1b[K`);
  }

  /** Clear the bar so the next line starts clean. */
  end(): void {
    if (this.enabled && this.drawn) this.out.write('\r\x1b[K');
  }
}

/** `replay [#########---------------------]  30% 300/1000` */
export function renderBar(done: number, total: number, label: string, unit = ''): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(frac * WIDTH);
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${done}/${total}${unit}`;
}
