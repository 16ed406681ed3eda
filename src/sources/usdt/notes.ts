/**
 * A bitcoind binary's USDT notes (ELF section `.note.stapsdt`, what
 * `readelf -n` prints as NT_STAPSDT): for each tracepoint, where the compiler
 * put each argument, as a SystemTap argument spec (`-4@%eax`, `8@-1056(%rbp)`,
 * `-8@160(%rsp)`). bpftrace 0.17 reads only arg0..arg5 on x86-64; with the spec
 * we read the rest ourselves, as bpftrace expressions on the probe's registers
 * (`reg()`) and the stack (`*(type*)uptr(...)`).
 */
import { readFileSync } from 'node:fs';

export interface UsdtNote {
  provider: string;
  name: string;
  /** One spec per argument, in order. */
  args: string[];
}

/** The stapsdt notes of an x86-64 little-endian ELF64 file; [] when it has none. Throws on a file that is no such ELF. */
export function readUsdtNotes(path: string): UsdtNote[] {
  return parseUsdtNotes(readFileSync(path));
}

export function parseUsdtNotes(elf: Buffer): UsdtNote[] {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (elf[4] !== 2 || elf[5] !== 1) throw new Error('not a little-endian ELF64 file');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  if (shoff + shnum * shentsize > elf.length || shentsize < 64) throw new Error('ELF section table out of range');
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return {
      name: elf.readUInt32LE(at),
      offset: Number(elf.readBigUInt64LE(at + 0x18)),
      size: Number(elf.readBigUInt64LE(at + 0x20)),
    };
  };
  const strtab = section(shstrndx);
  const nameOf = (off: number): string => {
    const start = strtab.offset + off;
    const end = elf.indexOf(0, start);
    return elf.toString('latin1', start, end < 0 ? start : end);
  };
  const notes: UsdtNote[] = [];
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (nameOf(s.name) !== '.note.stapsdt') continue;
    let at = s.offset;
    const end = Math.min(elf.length, s.offset + s.size);
    while (at + 12 <= end) {
      const namesz = elf.readUInt32LE(at);
      const descsz = elf.readUInt32LE(at + 4);
      const type = elf.readUInt32LE(at + 8);
      const nameAt = at + 12;
      const descAt = nameAt + align4(namesz);
      const next = descAt + align4(descsz);
      if (next > end) break;
      if (type === 3 && elf.toString('latin1', nameAt, nameAt + namesz - 1) === 'stapsdt' && descsz > 24) {
        // desc: pc, base, semaphore (3 x u64), then provider\0 name\0 args\0
        const strings = elf.toString('latin1', descAt + 24, descAt + descsz).split('\0');
        const [provider = '', name = '', args = ''] = strings;
        notes.push({ provider, name, args: args.trim() === '' ? [] : args.trim().split(/\s+/) });
      }
      at = next;
    }
  }
  return notes;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** x86-64 register names (any width) → bpftrace's reg() names, with the width in bytes a spec means. */
const REGS: Record<string, [string, number]> = {};
for (const r of ['ax', 'bx', 'cx', 'dx']) {
  REGS[`r${r}`] = [r, 8];
  REGS[`e${r}`] = [r, 4];
  REGS[r] = [r, 2];
  REGS[`${r[0]}l`] = [r, 1];
}
for (const r of ['si', 'di', 'bp', 'sp']) {
  REGS[`r${r}`] = [r, 8];
  REGS[`e${r}`] = [r, 4];
  REGS[r] = [r, 2];
  REGS[`${r}l`] = [r, 1];
}
for (let n = 8; n <= 15; n++) {
  REGS[`r${n}`] = [`r${n}`, 8];
  REGS[`r${n}d`] = [`r${n}`, 4];
  REGS[`r${n}w`] = [`r${n}`, 2];
  REGS[`r${n}b`] = [`r${n}`, 1];
}

const INT_TYPES: Record<string, string> = {
  '1': 'uint8',
  '-1': 'int8',
  '2': 'uint16',
  '-2': 'int16',
  '4': 'uint32',
  '-4': 'int32',
  '8': 'uint64',
  '-8': 'int64',
};

/**
 * A SystemTap argument spec → a bpftrace expression reading it in a usdt probe
 * (x86-64): `-4@%eax` → `(int32)reg("ax")`, `-8@160(%rsp)` →
 * `*(int64*)uptr(reg("sp") + 160)`, `1@%cl` → `(uint8)reg("cx")`, `$5` → `5`.
 * null for a form we do not translate (indexed addressing, RIP-relative).
 */
export function bpftraceArg(spec: string): string | null {
  const m = /^(-?[1248])@(.+)$/.exec(spec);
  if (!m) return null;
  const type = INT_TYPES[m[1]!];
  const where = m[2]!;
  if (!type) return null;
  const imm = /^\$(-?\d+)$/.exec(where);
  if (imm) return `(${type})${imm[1]}`;
  const reg = /^%([a-z0-9]+)$/.exec(where);
  if (reg) {
    const r = REGS[reg[1]!];
    return r ? `(${type})reg("${r[0]}")` : null;
  }
  const mem = /^(-?\d*)\(%([a-z0-9]+)\)$/.exec(where);
  if (mem) {
    const r = REGS[mem[2]!];
    if (!r || r[1] !== 8) return null;
    const off = mem[1] === '' || mem[1] === undefined ? 0 : Number(mem[1]);
    const addr = off === 0 ? `reg("${r[0]}")` : off > 0 ? `reg("${r[0]}") + ${off}` : `reg("${r[0]}") - ${-off}`;
    return `*(${type}*)uptr(${addr})`;
  }
  return null;
}
