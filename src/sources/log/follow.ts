/**
 * Follow a growing text file line by line, as `tail -F` does, without losing a
 * line: polls the path (fs.watch misses events on some file systems and across
 * renames), and
 * - rotation (the path now names another file: logrotate's rename + create, or
 *   Core reopening after SIGHUP): the old file is read to its end first, then
 *   the new one from its start;
 * - truncation (the file shrank: `copytruncate`, Core's ShrinkDebugFile): read
 *   again from the start;
 * - partial lines: kept until their newline arrives; a line longer than
 *   `maxLineBytes` is cut there (counted) and the rest skipped up to its newline;
 * - a FIFO: read as a stream until the writer closes it, then reopened.
 */
import { constants, openSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { Socket } from 'node:net';
import { sleep } from '../core/common.js';

export interface FollowOptions {
  path: string;
  /** Start at the beginning (default: at the end, like tail -f: only new lines). */
  fromStart?: boolean;
  /** How often to look for new data, rotation and truncation (default 250 ms). */
  pollMs?: number;
  /** Longest line kept (default 64 KiB); longer ones are cut and counted. */
  maxLineBytes?: number;
  /** Stop at the end of the file instead of waiting for more (reading a finished log). */
  once?: boolean;
  signal?: AbortSignal;
  onLine: (line: string) => void;
  /** Filled as it goes (for live stats); a new object when omitted. */
  counters?: FollowCounters;
}

export interface FollowCounters {
  bytes: number;
  rotations: number;
  truncations: number;
  truncatedLines: number;
  /** Times the path did not exist (yet) when we looked. */
  missing: number;
}

const CHUNK = 64 * 1024;

class LineSplitter {
  private parts: Buffer[] = [];
  private partLen = 0;
  private skipping = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly counters: FollowCounters,
    private readonly onLine: (line: string) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!this.skipping) {
        const room = this.maxLineBytes - this.partLen;
        const take = Math.min(room, end - start);
        if (take > 0) {
          this.parts.push(chunk.subarray(start, start + take));
          this.partLen += take;
        }
        if (end - start > room) {
          // Over the bound: emit what we have, skip the rest of this line.
          this.counters.truncatedLines++;
          this.emit();
          this.skipping = true;
        }
      }
      if (nl < 0) break;
      if (this.skipping) this.skipping = false;
      else this.emit();
      start = nl + 1;
    }
  }

  /** A partial line left at the end (truncation, end of input) is still a line. */
  flush(): void {
    if (this.partLen > 0) this.emit();
    this.skipping = false;
  }

  private emit(): void {
    let text = Buffer.concat(this.parts, this.partLen).toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    this.parts = [];
    this.partLen = 0;
    this.onLine(text);
  }
}

/** Follows until the signal aborts (or the end of the file with `once`); resolves with the counters. */
export async function followFile(options: FollowOptions): Promise<FollowCounters> {
  const counters: FollowCounters = options.counters ?? { bytes: 0, rotations: 0, truncations: 0, truncatedLines: 0, missing: 0 };
  const pollMs = options.pollMs ?? 250;
  const splitter = new LineSplitter(options.maxLineBytes ?? 64 * 1024, counters, options.onLine);
  const signal = options.signal;
  let fh: FileHandle | undefined;
  let ino = -1;
  let dev = -1;
  let pos = 0;
  let first = true;
  const buf = Buffer.allocUnsafe(CHUNK);

  /** Read from `pos` to the current end of the open file. */
  const drain = async (): Promise<void> => {
    for (;;) {
      const { bytesRead } = await fh!.read(buf, 0, CHUNK, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      counters.bytes += bytesRead;
      splitter.push(Buffer.from(buf.subarray(0, bytesRead)));
    }
  };

  try {
    while (!signal?.aborted) {
      let st;
      try {
        st = await stat(options.path);
      } catch {
        counters.missing++;
        // A file that appears after we started is all new: read it from its start.
        first = false;
        if (options.once) break;
        await sleep(pollMs, signal);
        continue;
      }
      if (st.isFIFO()) {
        await readFifo(options.path, splitter, counters, signal);
        splitter.flush();
        if (options.once) break;
        await sleep(pollMs, signal);
        continue;
      }
      if (!fh || st.ino !== ino || st.dev !== dev) {
        if (fh) {
          // Rotated: finish the old file (the writer may have added lines before the rename).
          await drain();
          splitter.flush();
          await fh.close();
          counters.rotations++;
        }
        fh = await open(options.path, 'r');
        const opened = await fh.stat();
        ino = opened.ino;
        dev = opened.dev;
        pos = first && !options.fromStart ? opened.size : 0;
        first = false;
      } else if (st.size < pos) {
        counters.truncations++;
        splitter.flush();
        pos = 0;
      }
      await drain();
      if (options.once) {
        splitter.flush();
        break;
      }
      await sleep(pollMs, signal);
    }
  } finally {
    await fh?.close();
  }
  return counters;
}

/**
 * One FIFO session: opened non-blocking (a blocking open would wait for a writer
 * in a thread that no abort can interrupt) and read through a socket handle, so
 * stopping is immediate. Ends when the last writer closes (or no writer is there:
 * the caller reopens after pollMs; a writer's open waits meanwhile, nothing is lost).
 */
async function readFifo(path: string, splitter: LineSplitter, counters: FollowCounters, signal?: AbortSignal): Promise<void> {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const socket = new Socket({ fd, readable: true, writable: false });
  const onAbort = (): void => {
    socket.destroy();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of socket) {
      counters.bytes += (chunk as Buffer).length;
      splitter.push(chunk as Buffer);
    }
  } catch (e) {
    if (!signal?.aborted) throw e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    socket.destroy();
  }
}
