/**
 * Whether `text` contains `token` standing alone: not inside a longer run of
 * base64url characters. Redaction tests scan signed reports for our own
 * identifiers; a short one (a host name such as "vm", a port) occurs by chance
 * inside a base64url signature or a hex digest, and that is no leak.
 */
export function containsToken(text: string, token: string): boolean {
  const escaped = token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![A-Za-z0-9_-])${escaped}(?![A-Za-z0-9_-])`).test(text);
}
