/**
 * Our own sending quota, as the hub counts it: at most `max` reports in any
 * `windowMs`. The hub's stream keeps each member's reports for `max_age` and
 * refuses the member's next one while it holds `max_msgs_per_subject`
 * (deploy/collective/reports-stream.json, docs/collective.md), so an honest
 * member keeps under it rather than have reports dropped unseen. `marginMs`
 * is added to the window: a report the hub stored a little after we sent it
 * has expired there before we count it gone.
 *
 * Bounded: at most `max` send times (the trust file's `maxReportsPerMinute`,
 * at most 100,000).
 */
export class SendQuota {
  /** Send times within the window, oldest first. */
  private readonly times: number[] = [];

  constructor(private readonly marginMs = 2000) {}

  /** Take one slot at `now` when fewer than `max` were taken in the last `windowMs` (+ margin). */
  take(now: number, max: number, windowMs: number): boolean {
    const horizon = now - windowMs - this.marginMs;
    let gone = 0;
    while (gone < this.times.length && this.times[gone]! <= horizon) gone++;
    // A lower `max` after a trust file reload: only the newest `max` matter.
    gone = Math.max(gone, this.times.length - max);
    if (gone > 0) this.times.splice(0, gone);
    if (this.times.length >= max) return false;
    this.times.push(now);
    return true;
  }
}
