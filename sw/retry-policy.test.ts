import { expect, test } from '@playwright/test';
import { OperationProcessingError, ResponseBodyError } from 'oauth4webapi';
import { classifyRefreshFailure, cooldownMs, parseRetryAfter, retryDelayMs } from './retry-policy.ts';

const now = Date.parse('2026-12-04T12:00:00Z');

function bodyError(status: number, error: string, headers: Record<string, string> = {}): ResponseBodyError {
  return new ResponseBodyError('server responded with an error in the response body', {
    cause: { error },
    response: new Response(JSON.stringify({ error }), { status, headers }),
  });
}

test('parseRetryAfter reads seconds and dates', () => {
  expect(parseRetryAfter('120', now)).toBe(120_000);
  expect(parseRetryAfter(' 0 ', now)).toBe(0);
  expect(parseRetryAfter('Fri, 04 Dec 2026 12:00:30 GMT', now)).toBe(30_000);
  expect(parseRetryAfter('Fri, 04 Dec 2026 11:00:00 GMT', now)).toBe(0);
  expect(parseRetryAfter('soon', now)).toBeUndefined();
  expect(parseRetryAfter('-5', now)).toBeUndefined();
  expect(parseRetryAfter(null, now)).toBeUndefined();
});

const classified: Array<[name: string, error: unknown, kind: string, status?: number]> = [
  ['invalid_grant', bodyError(400, 'invalid_grant'), 'rejected'],
  ['invalid_dpop_proof', bodyError(400, 'invalid_dpop_proof'), 'rejected'],
  ['invalid_client', bodyError(401, 'invalid_client'), 'rejected'],
  ['invalid_scope', bodyError(400, 'invalid_scope'), 'failed', 400],
  ['503 with body', bodyError(503, 'temporarily_unavailable'), 'retryable', 503],
  ['429', bodyError(429, 'slow_down'), 'retryable', 429],
  ['502 without JSON', new OperationProcessingError('unexpected HTTP status code', { cause: new Response('Bad Gateway', { status: 502 }) }), 'retryable', 502],
  ['network error', new TypeError('Failed to fetch'), 'retryable'],
  ['timeout', new DOMException('The operation timed out.', 'TimeoutError'), 'timeout'],
  ['abort', new DOMException('The operation was aborted.', 'AbortError'), 'timeout'],
  ['anything else', new Error('unexpected'), 'failed'],
];

for (const [name, error, kind, status] of classified) {
  test(`classifies ${name}`, () => {
    const failure = classifyRefreshFailure(error, now);
    expect(failure.kind).toBe(kind);
    expect(failure.status).toBe(status);
  });
}

test('Retry-After travels with the failure', () => {
  expect(classifyRefreshFailure(bodyError(503, 'temporarily_unavailable', { 'retry-after': '7' }), now).retryAfterMs).toBe(7000);
});

test('retry delays grow and stay bounded', () => {
  for (let attempt = 0; attempt < 10; attempt++) {
    const ceiling = Math.min(500 * 2 ** attempt, 8000);
    expect(retryDelayMs(attempt, () => 0)).toBe(ceiling / 2);
    expect(retryDelayMs(attempt, () => 1)).toBe(ceiling);
  }
});

test('cooldown grows and stays bounded', () => {
  expect(cooldownMs(1, () => 0.5)).toBe(5000);
  expect(cooldownMs(2, () => 0.5)).toBe(10_000);
  expect(cooldownMs(5, () => 0.5)).toBe(60_000);
  expect(cooldownMs(50, () => 1)).toBe(72_000);
  expect(cooldownMs(1, () => 0)).toBe(4000);
});
