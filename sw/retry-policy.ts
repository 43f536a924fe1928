// Classification of refresh failures, and the pauses before the worker tries again.
import * as oauth from 'oauth4webapi';
import { isGrantRejection } from './provider.ts';

/**
 * - `rejected`: the provider refused the grant; only a new login helps.
 * - `timeout`: no response in time; the provider may still have processed the request, so it is
 *   not repeated within the same round.
 * - `retryable`: a network error, 429 or 5xx; worth a short, bounded retry.
 * - `failed`: any other error; the session is kept and the next round tries again later.
 */
export type FailureKind = 'rejected' | 'timeout' | 'retryable' | 'failed';

export interface RefreshFailure {
  kind: FailureKind;
  status?: number;
  /** Delay the provider asked for with `Retry-After`, in milliseconds. */
  retryAfterMs?: number;
}

/** Parses `Retry-After` as delay-seconds or an HTTP date; returns milliseconds from `now`. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Date.parse reads a bare signed number as a year, which is no HTTP date.
  if (/^[+-]?\d+$/.test(trimmed)) return undefined;

  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function responseOf(error: unknown): Response | undefined {
  if (error instanceof oauth.ResponseBodyError) return error.response;
  if (error instanceof oauth.OperationProcessingError && error.cause instanceof Response) return error.cause;
  return undefined;
}

export function classifyRefreshFailure(error: unknown, now: number): RefreshFailure {
  if (isGrantRejection(error)) return { kind: 'rejected' };
  if (error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError')) return { kind: 'timeout' };
  // fetch rejects with a TypeError when the connection fails.
  if (error instanceof TypeError) return { kind: 'retryable' };

  const response = responseOf(error);
  if (response === undefined) return { kind: 'failed' };
  const status = response.status;
  if (status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now);
    return retryAfterMs === undefined ? { kind: 'retryable', status } : { kind: 'retryable', status, retryAfterMs };
  }
  return { kind: 'failed', status };
}

/** Delay before retry number `attempt` (0-based) within one round: 0.5 s, 1 s, 2 s … up to 8 s, with jitter. */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(500 * 2 ** attempt, 8000);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Pause after `failedRounds` consecutive failed rounds: 5 s, 10 s, 20 s … up to 60 s, with ±20% jitter. */
export function cooldownMs(failedRounds: number, random: () => number = Math.random): number {
  const base = Math.min(5000 * 2 ** Math.max(0, failedRounds - 1), 60_000);
  return Math.round(base * (0.8 + random() * 0.4));
}
