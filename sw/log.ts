// Worker console output. Lines carry error codes, statuses and origin-relative paths, never a
// token, code, verifier or response body.
import { describeProviderError } from './provider.ts';

/** Logs an error the worker handled without rethrowing it. */
export function warn(message: string, error?: unknown): void {
  const detail = error === undefined ? '' : `: ${describeProviderError(error)}`;
  console.warn(`[sw-token-guardian] ${message}${detail}`);
}
