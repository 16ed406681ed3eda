/**
 * The CLI's two failure kinds. Each prints as one line, `peer-observer: error: ...`,
 * never a stack trace: bad input exits 2, a runtime failure (port in use, ...) exits 1.
 */

/** Bad flags, environment or config file. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly exitCode = 2;
}

/** The command was well formed but could not do its job. */
export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
  readonly exitCode = 1;
}

/** `node:net` error codes people meet when binding or dialing, in words. */
const NET_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this machine',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed',
};

/** One line for any error: the message of ours, the errno in words for the system's. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const words = code ? NET_ERRORS[code] : undefined;
    const address = (err as { address?: string; port?: number }).address;
    const port = (err as { port?: number }).port;
    if (words) {
      const where =
        address !== undefined ? ` ${address.includes(':') ? `[${address}]` : address}${port !== undefined ? `:${port}` : ''}` : '';
      const verb = (err as { syscall?: string }).syscall === 'listen' || code === 'EADDRINUSE' ? 'cannot listen on' : 'cannot reach';
      return where ? `${verb}${where}: ${words}` : `${err.message}`;
    }
    return err.message.split('\n')[0] ?? String(err);
  }
  return String(err).split('\n')[0] ?? 'unknown error';
}
