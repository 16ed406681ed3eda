/**
 * The trust file, `collective.json`: who the members are, their keys, and the
 * limits every report must meet. Editing the file is how a key is rotated
 * (add the new one; mark the old one `revoked`) or a member removed; the
 * running process picks the change up without a restart (`TrustStore`, which
 * polls the file's inode, size and mtime: an editor's save-by-rename is seen
 * like any write; a missing file keeps the last good trust). A file
 * that does not parse or validate is refused with one line naming the field,
 * and the store keeps the last good one (counted in `errors`).
 *
 * ```json
 * {
 *   "collective": "bnoc-example",
 *   "limits": { "maxReportBytes": 65536, "maxAgeSec": 3600, "maxFutureSec": 300, "maxReportsPerMinute": 60 },
 *   "members": [
 *     { "name": "alice", "weight": 2,
 *       "keys": [{ "publicKey": "<43 base64url>", "revoked": "2026-12-01: laptop stolen" }, { "publicKey": "<43 base64url>" }] },
 *     { "name": "bob", "vouchedBy": ["alice"], "keys": [{ "publicKey": "<43 base64url>" }] }
 *   ]
 * }
 * ```
 *
 * A revoked key is refused for every report, whatever date the report claims
 * (a thief can backdate).
 *
 * - `weight` (default 1): what the member's report counts toward k in the
 *   correlation (correlator.ts): a collective incident needs reports whose
 *   members' weights add up to k.
 * - `vouchedBy`: a member admitted on someone's word. It is *in standing*
 *   (its reports accepted) only while at least one of its vouchers is: a
 *   member of this file, in standing, with a key not revoked. Remove or
 *   revoke the voucher and those it alone vouched for are out too (a name not
 *   in the file is a voucher that left). A member without `vouchedBy` stands
 *   on its own keys. Computed once per file (`Member.standing`), so it takes
 *   effect on reload like any edit.
 */
import { readFileSync, statSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { keyIdOf, parsePublicKey, PUBLIC_KEY_TEXT } from './keys.js';

/** A member's name: also a NATS subject token, so no dots, wildcards or spaces. */
export const MEMBER_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export const DEFAULT_LIMITS = Object.freeze({ maxReportBytes: 65_536, maxAgeSec: 3600, maxFutureSec: 300, maxReportsPerMinute: 60 });

/** The trust file's largest size: a few hundred members fit in far less. */
const MAX_TRUST_FILE_BYTES = 1024 * 1024;

const TrustFileSchema = z
  .object({
    collective: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected 1-64 letters, digits, ".", "_" or "-"'),
    limits: z
      .object({
        maxReportBytes: z
          .number()
          .int()
          .min(1024)
          .max(4 * 1024 * 1024)
          .optional(),
        maxAgeSec: z
          .number()
          .int()
          .min(1)
          .max(30 * 86_400)
          .optional(),
        maxFutureSec: z.number().int().min(0).max(86_400).optional(),
        maxReportsPerMinute: z.number().int().min(1).max(100_000).optional(),
      })
      .strict()
      .optional(),
    members: z
      .array(
        z
          .object({
            name: z.string().regex(MEMBER_NAME, 'expected 1-32 lower-case letters, digits, "_" or "-"'),
            weight: z.number().positive().max(1000).optional(),
            vouchedBy: z.array(z.string().regex(MEMBER_NAME, 'expected a member name')).min(1).max(100).optional(),
            keys: z
              .array(
                z
                  .object({
                    publicKey: z.string().regex(PUBLIC_KEY_TEXT, 'expected an Ed25519 public key: 43 base64url characters'),
                    revoked: z.union([z.literal(true), z.string().min(1).max(200)]).optional(),
                  })
                  .strict(),
              )
              .min(1, 'expected at least one key')
              .max(16),
          })
          .strict(),
      )
      .max(10_000),
  })
  .strict();

export type TrustFile = z.infer<typeof TrustFileSchema>;

export interface TrustedKey {
  keyId: string;
  member: string;
  publicKey: KeyObject;
  /** Why it was revoked (true: no reason given); undefined while valid. */
  revoked: string | true | undefined;
}

export interface Member {
  name: string;
  weight: number;
  /** Who vouches for it (empty: it stands on its own). */
  vouchedBy: string[];
  keyIds: string[];
  /** true, or why its reports are refused ("has only revoked keys", "is vouched for by no member in standing (carol)"). */
  standing: true | string;
}

export interface Trust {
  collective: string;
  limits: { maxReportBytes: number; maxAgeSec: number; maxFutureSec: number; maxReportsPerMinute: number };
  members: Map<string, Member>;
  keys: Map<string, TrustedKey>;
}

/** Validate a parsed trust file; throws one line naming the field. */
export function parseTrust(raw: unknown): Trust {
  const result = TrustFileSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : 'the file';
    if (issue.code === 'unrecognized_keys' && issue.keys[0] === 'vouchesFor')
      throw new Error(`${where}: unknown key "vouchesFor": vouching is written on the vouched member, as "vouchedBy": ["<voucher>"]`);
    throw new Error(
      issue.code === 'unrecognized_keys' ? `${where}: unknown key ${JSON.stringify(issue.keys[0])}` : `${where}: ${issue.message}`,
    );
  }
  const file = result.data;
  const members = new Map<string, Member>();
  const keys = new Map<string, TrustedKey>();
  file.members.forEach((m, i) => {
    if (members.has(m.name)) throw new Error(`members.${i}.name: ${JSON.stringify(m.name)} appears twice`);
    const keyIds: string[] = [];
    m.keys.forEach((k, j) => {
      const keyId = keyIdOf(k.publicKey);
      const other = keys.get(keyId);
      if (other) throw new Error(`members.${i}.keys.${j}: the same key is already ${other.member}'s`);
      let publicKey: KeyObject;
      try {
        publicKey = parsePublicKey(k.publicKey);
      } catch (err) {
        throw new Error(`members.${i}.keys.${j}.publicKey: ${(err as Error).message}`);
      }
      keys.set(keyId, { keyId, member: m.name, publicKey, revoked: k.revoked });
      keyIds.push(keyId);
    });
    const live = m.keys.some((k) => k.revoked === undefined);
    members.set(m.name, {
      name: m.name,
      weight: m.weight ?? 1,
      vouchedBy: m.vouchedBy ?? [],
      keyIds,
      standing: live ? true : 'has only revoked keys',
    });
  });
  settleVouching(members);
  return { collective: file.collective, limits: { ...DEFAULT_LIMITS, ...file.limits }, members, keys };
}

/**
 * Who is in standing: a member with a live key and no voucher, and then every
 * member with a live key vouched for by one in standing (a walk from the
 * members who stand on their own, each member raised once: linear in the
 * file). A ring of members vouching only for each other never stands.
 */
function settleVouching(members: Map<string, Member>): void {
  // voucher → the members it vouches for that have a live key (those are the only ones it can raise).
  const vouchees = new Map<string, Member[]>();
  const queue: Member[] = [];
  for (const m of members.values()) {
    if (m.standing !== true) continue;
    if (m.vouchedBy.length === 0) {
      queue.push(m);
      continue;
    }
    m.standing = `is vouched for by no member in standing (${m.vouchedBy.join(', ')})`;
    for (const v of m.vouchedBy) {
      const list = vouchees.get(v);
      if (list) list.push(m);
      else vouchees.set(v, [m]);
    }
  }
  // From the members who stand on their own: each member is raised once.
  for (let m = queue.pop(); m; m = queue.pop())
    for (const u of vouchees.get(m.name) ?? [])
      if (u.standing !== true) {
        u.standing = true;
        queue.push(u);
      }
}

/** Read and validate a trust file; errors are one line starting with the path. */
export function loadTrust(path: string): Trust {
  let text: string;
  try {
    if (statSync(path).size > MAX_TRUST_FILE_BYTES) throw new Error(`larger than ${MAX_TRUST_FILE_BYTES} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new Error(`${path}: cannot read: ${why}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: invalid JSON: ${(err as Error).message}`);
  }
  try {
    return parseTrust(raw);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

export interface TrustStoreOptions {
  /** How often the file is checked for changes. Default 1000 ms. */
  intervalMs?: number;
  onReload?: (trust: Trust) => void;
  /** A changed file that could not be used (the last good trust stays). */
  onError?: (error: Error) => void;
}

/** The trust file, kept current: `current()` is the last file that validated. */
export class TrustStore {
  private trust: Trust;
  private reloadCount = 0;
  private errorCount = 0;
  private readonly timer: NodeJS.Timeout;
  /** The file as it was when last read (a change is judged against it, not against the poller's first look). */
  private seen: { ino: number; size: number; mtimeMs: number } | undefined;

  /** Throws if the file is unusable now (at start, a bad file is an error, not a fallback). */
  constructor(
    readonly path: string,
    private readonly o: TrustStoreOptions = {},
  ) {
    this.seen = this.look();
    this.trust = loadTrust(path);
    // Our own poll (fs.watchFile misses a change made before its first look, and fs.watch an editor's rename).
    this.timer = setInterval(() => {
      const now = this.look();
      const s = this.seen;
      if (now === undefined || (s && now.mtimeMs === s.mtimeMs && now.size === s.size && now.ino === s.ino)) return;
      this.reload();
    }, o.intervalMs ?? 1000);
    this.timer.unref();
  }

  current(): Trust {
    return this.trust;
  }

  /** Re-read now; true when the new file was taken. */
  reload(): boolean {
    this.seen = this.look();
    try {
      this.trust = loadTrust(this.path);
      this.reloadCount++;
      this.o.onReload?.(this.trust);
      return true;
    } catch (err) {
      this.errorCount++;
      this.o.onError?.(err as Error);
      return false;
    }
  }

  stats(): { reloads: number; errors: number; members: number; keys: number } {
    return { reloads: this.reloadCount, errors: this.errorCount, members: this.trust.members.size, keys: this.trust.keys.size };
  }

  private look(): { ino: number; size: number; mtimeMs: number } | undefined {
    try {
      const { ino, size, mtimeMs } = statSync(this.path);
      return { ino, size, mtimeMs };
    } catch {
      return undefined;
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
