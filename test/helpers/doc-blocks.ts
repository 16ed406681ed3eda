/**
 * Configuration the docs show, for tests to run as written: a test that reads
 * the documented block instead of a copy of it cannot drift from the docs. A
 * block that is gone or has changed shape throws, naming the doc and what was
 * looked for, so a doc edit breaks the test rather than leaving it testing
 * nothing.
 */
import { readFileSync } from 'node:fs';

/** The first fenced code block of docs/`file` that contains `marker`, without its fences. */
export function docBlock(file: string, marker: string): string {
  const text = readFileSync(new URL(`../../docs/${file}`, import.meta.url), 'utf8');
  for (const m of text.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)) if (m[1]!.includes(marker)) return m[1]!;
  throw new Error(`docs/${file}: no fenced code block containing ${JSON.stringify(marker)}`);
}

/** The password a test gives each user of a documented block (whose passwords are "..."). */
export const docPassword = (user: string): string => `${user}-secret`;

/**
 * docs/bus.md's NATS `authorization {}` block, each user's documented `password: "..."` replaced by
 * docPassword(user); throws unless the block has every user of `users`.
 */
export function docNatsAuthorization(users: readonly string[]): string {
  const marker = 'authorization {';
  const found: string[] = [];
  const text = docBlock('bus.md', marker).replace(/user: "([^"]+)", password: "\.\.\."/g, (_, user: string) => {
    found.push(user);
    return `user: "${user}", password: "${docPassword(user)}"`;
  });
  for (const u of users) {
    if (!found.includes(u))
      throw new Error(
        `docs/bus.md: the block containing ${JSON.stringify(marker)} has no user "${u}" with password "..." (has ${found.join(', ')})`,
      );
  }
  return text;
}
