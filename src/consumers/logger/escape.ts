/**
 * Printing attacker-controlled text safely. A peer chooses its user agent, its
 * unknown commands and the strings inside some payloads; printed raw, an ANSI
 * escape or a bidi override in them would rewrite the operator's terminal or
 * disguise a line. Everything a peer could have chosen goes through here.
 */

// C0 controls, DEL, C1 controls (0x9b is a one-byte CSI on some terminals),
// bidi and other format characters (Cf), line/paragraph separators, lone surrogates.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\p{Cf}\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/gu;
const UNSAFE_OR_QUOTE = new RegExp(`${UNSAFE.source}|["\\\\]`, 'gu');

function escapeChar(c: string): string {
  switch (c) {
    case '\\':
      return '\\\\';
    case '"':
      return '\\"';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
  }
  const code = c.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** Text with every control, format and separator character written as an escape; nothing else changes. */
export function escapeText(s: string): string {
  return s.replace(UNSAFE, escapeChar);
}

/** A double-quoted, escaped string: unambiguous even when it contains spaces or quotes. */
export function quote(s: string): string {
  return `"${s.replace(UNSAFE_OR_QUOTE, escapeChar)}"`;
}

/** Quote only when needed: bare when the text is short, plain, visible ASCII. */
export function bare(s: string): string {
  return /^[\x21-\x7e]{1,64}$/.test(s) && !/["\\]/.test(s) ? s : quote(s);
}

// JSON.stringify already escapes C0 controls and lone surrogates; these it leaves raw.
const JSON_UNSAFE = /[\u007f-\u009f\p{Cf}\u2028\u2029]/gu;

/** JSON text that is the same value, with the characters terminals act on written as \u escapes. */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(JSON_UNSAFE, (c) => {
    const code = c.codePointAt(0)!;
    if (code > 0xffff) {
      const hi = 0xd800 + ((code - 0x10000) >> 10);
      const lo = 0xdc00 + ((code - 0x10000) & 0x3ff);
      return `\\u${hi.toString(16)}\\u${lo.toString(16)}`;
    }
    return `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
