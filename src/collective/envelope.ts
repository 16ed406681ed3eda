/**
 * A member's signed report, as it travels on the collective's NATS:
 *
 * ```json
 * {"format":"peer-observer collective report","version":1,"collective":"bnoc-example",
 *  "member":"alice","keyId":"<16 hex>","seq":42,"issuedAt":1765000000000,
 *  "report":{...shared report...},"sig":"<base64url Ed25519 signature>"}
 * ```
 *
 * The signature covers `SIGNING_DOMAIN` followed by the canonical encoding
 * (canonical.ts) of everything but `sig`, so no field can be changed, added or
 * removed, and a signature made for something else is never valid here.
 *
 * `Verifier.verify` checks, in order, and refuses with a counted reason:
 * size (before parsing), JSON, shape, collective name, member, the NATS
 * subject's member (when the transport names one), key (known, the member's,
 * not revoked), the member's standing (trust.ts: its voucher still in),
 * signature, age and clock skew, and the sequence number
 * (strictly increasing per member: a replay, or an older report delivered
 * late, is refused), and last the member's rate (a token bucket of
 * `maxReportsPerMinute`, burst as large: checked after the signature, so
 * nobody but the member can spend its budget). Only then is the member's
 * sequence advanced.
 */
import { sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { canonicalBytes } from './canonical.js';
import { keyIdOf, publicKeyText } from './keys.js';
import { SharedReportSchema, type SharedReport } from './report.js';
import type { SeqState } from './seq.js';
import type { Trust } from './trust.js';
import { MEMBER_NAME } from './trust.js';

export const SIGNING_DOMAIN = 'peer-observer collective report v1\n';
export const ENVELOPE_FORMAT = 'peer-observer collective report';

const EnvelopeSchema = z
  .object({
    format: z.literal(ENVELOPE_FORMAT),
    version: z.literal(1),
    collective: z.string().max(64),
    member: z.string().regex(MEMBER_NAME),
    keyId: z.string().regex(/^[0-9a-f]{16}$/),
    seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    issuedAt: z.number().int().min(0).max(8.64e15),
    report: SharedReportSchema,
    sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
  })
  .strict();

export type Envelope = z.infer<typeof EnvelopeSchema>;

function signedBytes(unsigned: Omit<Envelope, 'sig'>): Buffer {
  return Buffer.concat([Buffer.from(SIGNING_DOMAIN, 'utf8'), canonicalBytes(unsigned)]);
}

export interface SignOptions {
  collective: string;
  member: string;
  privateKey: KeyObject;
  seq: number;
  /** ms since the epoch. Default now. */
  issuedAt?: number;
}

/** Sign a shared report: the envelope's JSON text (what goes on the wire). */
export function signReport(report: SharedReport, o: SignOptions): string {
  const checked = SharedReportSchema.parse(report);
  const unsigned: Omit<Envelope, 'sig'> = {
    format: ENVELOPE_FORMAT,
    version: 1,
    collective: o.collective,
    member: o.member,
    keyId: keyIdOf(publicKeyText(o.privateKey)),
    seq: o.seq,
    issuedAt: o.issuedAt ?? Date.now(),
    report: checked,
  };
  const sig = edSign(null, signedBytes(unsigned), o.privateKey).toString('base64url');
  return JSON.stringify({ ...unsigned, sig });
}

export const REFUSALS = [
  'oversize',
  'malformed',
  'wrong-collective',
  'unknown-member',
  'subject-mismatch',
  'unknown-key',
  'revoked-key',
  'bad-signature',
  'too-old',
  'from-future',
  'replay',
  'rate-limited',
  'unvouched',
] as const;
export type Refusal = (typeof REFUSALS)[number];

export type VerifyResult = { ok: true; envelope: Envelope } | { ok: false; reason: Refusal; detail: string };

export interface VerifierOptions {
  /** The trust in force now (a TrustStore's `current`). */
  trust: () => Trust;
  /** Each member's last accepted sequence number. */
  seqs: SeqState;
  now?: () => number;
}

export class Verifier {
  private readonly counts: Record<Refusal | 'accepted', number>;
  /** Per member: tokens left and when they were counted (one entry per member name ever accepted). */
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(private readonly o: VerifierOptions) {
    this.counts = Object.fromEntries([...REFUSALS, 'accepted'].map((k) => [k, 0])) as Record<Refusal | 'accepted', number>;
  }

  /** `subjectMember`: the member the transport says sent it (the NATS subject), when there is one. */
  verify(bytes: Uint8Array | string, subjectMember?: string): VerifyResult {
    const result = this.check(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes, subjectMember);
    this.counts[result.ok ? 'accepted' : result.reason]++;
    return result;
  }

  counters(): Record<Refusal | 'accepted', number> {
    return { ...this.counts };
  }

  /** Take one token from the member's bucket (refilled at perMinute/60 s, holding at most perMinute). */
  private take(member: string, perMinute: number, now: number): boolean {
    const b = this.buckets.get(member) ?? { tokens: perMinute, atMs: now };
    b.tokens = Math.min(perMinute, b.tokens + (Math.max(0, now - b.atMs) * perMinute) / 60_000);
    b.atMs = now;
    this.buckets.set(member, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private check(bytes: Uint8Array, subjectMember: string | undefined): VerifyResult {
    const trust = this.o.trust();
    const refuse = (reason: Refusal, detail: string): VerifyResult => ({ ok: false, reason, detail });
    if (bytes.length > trust.limits.maxReportBytes) return refuse('oversize', `${bytes.length} bytes, over ${trust.limits.maxReportBytes}`);
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
    } catch {
      return refuse('malformed', 'not JSON');
    }
    const parsed = EnvelopeSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return refuse('malformed', `${issue.path.join('.') || 'envelope'}: ${issue.message}`);
    }
    const e = parsed.data;
    if (e.collective !== trust.collective) return refuse('wrong-collective', `for ${JSON.stringify(e.collective)}`);
    if (!trust.members.has(e.member)) return refuse('unknown-member', `no member ${JSON.stringify(e.member)}`);
    if (subjectMember !== undefined && subjectMember !== e.member)
      return refuse('subject-mismatch', `claims ${e.member}, published as ${subjectMember}`);
    const key = trust.keys.get(e.keyId);
    if (!key || key.member !== e.member) return refuse('unknown-key', `key ${e.keyId} is not ${e.member}'s`);
    if (key.revoked !== undefined) return refuse('revoked-key', `key ${e.keyId} of ${e.member} is revoked`);
    const standing = trust.members.get(e.member)!.standing;
    if (standing !== true) return refuse('unvouched', `${e.member} ${standing}`);
    const { sig, ...unsigned } = e;
    // The canonical form of what was parsed: a re-ordered or re-spaced copy verifies, any changed value does not.
    if (!edVerify(null, signedBytes(unsigned), key.publicKey, Buffer.from(sig, 'base64url')))
      return refuse('bad-signature', `not signed by key ${e.keyId}`);
    const now = (this.o.now ?? Date.now)();
    if (now - e.issuedAt > trust.limits.maxAgeSec * 1000)
      return refuse('too-old', `issued ${Math.round((now - e.issuedAt) / 1000)} s ago, over ${trust.limits.maxAgeSec} s`);
    if (e.issuedAt - now > trust.limits.maxFutureSec * 1000)
      return refuse('from-future', `issued ${Math.round((e.issuedAt - now) / 1000)} s ahead of our clock`);
    const last = this.o.seqs.last(e.member);
    if (e.seq <= last) return refuse('replay', `seq ${e.seq}, ${e.member} is at ${last}`);
    if (!this.take(e.member, trust.limits.maxReportsPerMinute, now))
      return refuse('rate-limited', `${e.member} is over ${trust.limits.maxReportsPerMinute} reports a minute`);
    this.o.seqs.accept(e.member, e.seq);
    return { ok: true, envelope: e };
  }
}
