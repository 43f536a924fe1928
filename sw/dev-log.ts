// Development-only worker console output. Call sites guard each call with
// `if (process.env.NODE_ENV !== 'production')`, so a bundler that defines NODE_ENV as
// "production" (as the README's esbuild command does) removes the calls and their strings.
// Lines carry methods, origin-relative paths and ids, never a token.

/** Logs one line, grouped under the intercepted request it belongs to when `requestId` is set. */
export function devLog(message: string, requestId?: number): void {
  const prefix = requestId === undefined ? '[sw-token-guardian]' : `[sw-token-guardian #${requestId}]`;
  console.debug(`${prefix} ${message}`);
}
