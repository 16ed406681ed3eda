/**
 * CPU seconds (user + system) per thread of this process, from /proc (Linux): `main` (the event loop), and the
 * others by thread id (Node 20 names them all `node`: a worker thread such as the archive's writer, V8's helpers for
 * garbage collection and compilation, libuv's pool). Empty elsewhere.
 */
import { readdirSync, readFileSync } from 'node:fs';

export function threadCpuSeconds(): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === process.pid ? 'main' : `thread ${tid}`;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (USER_HZ = 100)
      out.set(name, (out.get(name) ?? 0) + seconds);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** What each thread name used between two readings. */
export function threadCpuSince(before: Map<string, number>): Record<string, number> {
  const now = threadCpuSeconds();
  const out: Record<string, number> = {};
  for (const [name, s] of now) out[name] = s - (before.get(name) ?? 0);
  return out;
}
