/**
 * IP list files for the metrics' list memberships (`--ip-list NAME=FILE`): a
 * Tor exit list, a ban list, a researcher's list of suspects. One CIDR or IP
 * per line; `#` starts a comment; blank lines are skipped. A line that is not
 * an IP or CIDR is an error naming the file and line: a list that silently
 * matched nothing would be worse than none.
 */
import { readFileSync, statSync } from 'node:fs';
import { parseCidr } from '../../net/remote.js';
import type { IpList } from './traffic.js';

/** Most entries per list (CIDRs are matched one by one, once per connection). */
export const MAX_LIST_ENTRIES = 100_000;
export const MAX_LIST_BYTES = 16 * 1024 * 1024;
/** List names are label values: short, lowercase words. */
export const LIST_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** `NAME=FILE` → the list, or an Error saying what is wrong. */
export function loadIpList(spec: string): IpList {
  const eq = spec.indexOf('=');
  const name = eq > 0 ? spec.slice(0, eq) : '';
  const file = eq > 0 ? spec.slice(eq + 1) : '';
  if (!LIST_NAME.test(name) || file === '')
    throw new Error(`--ip-list ${JSON.stringify(spec)}: expected NAME=FILE (NAME: a-z, 0-9, _ or -, at most 32)`);
  let text: string;
  try {
    if (statSync(file).size > MAX_LIST_BYTES) throw new Error(`larger than ${MAX_LIST_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err);
    throw new Error(`--ip-list ${name}=${file}: ${why}`);
  }
  const cidrs: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/#.*/, '').trim();
    if (line === '') continue;
    const cidr = line.includes('/') ? line : `${line}/${line.includes(':') ? 128 : 32}`;
    try {
      parseCidr(cidr);
    } catch {
      throw new Error(`--ip-list ${name}=${file}:${i + 1}: not an IP or CIDR: ${JSON.stringify(line.slice(0, 64))}`);
    }
    if (cidrs.length >= MAX_LIST_ENTRIES) throw new Error(`--ip-list ${name}=${file}: more than ${MAX_LIST_ENTRIES} entries`);
    cidrs.push(cidr);
  }
  return { name, cidrs };
}
