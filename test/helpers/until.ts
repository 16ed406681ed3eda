/** Polls `cond` until it holds; after `timeoutMs` fails with what was awaited. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000, pollMs = 20): Promise<void> {
  await untilValue(async () => (await cond()) || undefined, what, timeoutMs, pollMs);
}

/** Polls `f` until it returns a value (not undefined, null or false) and returns it; after `timeoutMs` fails with what was awaited. */
export async function untilValue<T>(
  f: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 15_000,
  pollMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
