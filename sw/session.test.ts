import { expect, test } from '@playwright/test';
import { ResponseBodyError } from 'oauth4webapi';
import type { GuardianEvent } from './protocol.ts';
import type { LoginTokens, TokenSet } from './provider.ts';
import { defaultTokenTarget, type TokenTarget } from './resources.ts';
import { SessionManager, type SessionOptions, type TokenRefresher } from './session.ts';

const target = defaultTokenTarget;

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

class FakeRefresher implements TokenRefresher {
  readonly presented: string[] = [];
  /** Token target keys of the refreshes, in order. */
  readonly targets: string[] = [];
  readonly revoked: string[] = [];
  readonly pending: Deferred<TokenSet>[] = [];
  /** When set, every refresh rejects with it at once. */
  failWith: unknown = undefined;

  refresh(refreshToken: string, _keyPair: CryptoKeyPair | undefined, tokenTarget: TokenTarget): Promise<TokenSet> {
    this.presented.push(refreshToken);
    this.targets.push(tokenTarget.key);
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    const next = deferred<TokenSet>();
    this.pending.push(next);
    return next.promise;
  }

  async revoke(token: string): Promise<boolean> {
    this.revoked.push(token);
    return true;
  }
}

function tokens(n: number, now: number, lifetimeMs = 60_000): TokenSet {
  return { accessToken: `at-${n}`, refreshToken: `rt-${n}`, idToken: undefined, expiresAt: now + lifetimeMs, lifetimeMs };
}

function loginTokens(now: number, lifetimeMs = 60_000): LoginTokens {
  return { ...tokens(0, now, lifetimeMs), user: { sub: 'alice' } };
}

function invalidGrant(): ResponseBodyError {
  const response = new Response(null, { status: 400 });
  return new ResponseBodyError('server responded with an error in the response body', {
    cause: { error: 'invalid_grant', error_description: 'grant request is invalid' },
    response,
  });
}

function setup(leewaySeconds = 30, extra: Partial<SessionOptions> = {}) {
  let now = 1_000_000;
  const events: GuardianEvent[] = [];
  const refresher = new FakeRefresher();
  const sleeps: number[] = [];
  const sessions = new SessionManager({
    refresher,
    tokenTargets: [target],
    refreshLeewaySeconds: leewaySeconds,
    emit: (event) => events.push(event),
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...extra,
  });
  return { sessions, refresher, events, sleeps, advance: (ms: number) => (now += ms), now: () => now };
}

test('concurrent callers share one refresh', async () => {
  const { sessions, refresher, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  const seen = sessions.current!.tokens.default!.generation;

  const waiters = Array.from({ length: 50 }, () => sessions.refreshAfter(target, seen, 'expiry'));
  expect(refresher.presented).toEqual(['rt-0']);
  refresher.pending[0]!.resolve(tokens(1, now()));
  const results = await Promise.all(waiters);

  expect(new Set(results.map((session) => session?.accessToken))).toEqual(new Set(['at-1']));
  expect(sessions.current?.refreshToken).toBe('rt-1');
  expect(refresher.presented).toEqual(['rt-0']);
});

test('stale generation gets current session', async () => {
  const { sessions, refresher, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  const first = sessions.current!.tokens.default!.generation;
  const refreshing = sessions.refreshAfter(target, first, 'expiry');
  refresher.pending[0]!.resolve(tokens(1, now()));
  await refreshing;

  // A request that was sent with the old token retries with the new one, without a refresh.
  const session = await sessions.refreshAfter(target, first, 'expiry');
  expect(session?.accessToken).toBe('at-1');
  expect(refresher.presented).toEqual(['rt-0']);
});

test('rotation never presents a spent token', async () => {
  const { sessions, refresher, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  for (let round = 1; round <= 3; round++) {
    const refreshing = sessions.refreshAfter(target, sessions.current!.tokens.default!.generation, 'expiry');
    refresher.pending[round - 1]!.resolve(tokens(round, now()));
    await refreshing;
  }
  expect(refresher.presented).toEqual(['rt-0', 'rt-1', 'rt-2']);
});

test('provider without rotation keeps refresh token', async () => {
  const { sessions, refresher, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  const refreshing = sessions.refreshAfter(target, sessions.current!.tokens.default!.generation, 'expiry');
  refresher.pending[0]!.resolve({ ...tokens(1, now()), refreshToken: undefined });
  await refreshing;
  expect(sessions.current?.refreshToken).toBe('rt-0');
  expect(sessions.current?.tokens.default?.accessToken).toBe('at-1');
});

test('invalid_grant ends the session', async () => {
  const { sessions, refresher, events, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  const waiters = [sessions.refreshAfter(target, sessions.current!.tokens.default!.generation, 'expiry'), sessions.refreshAfter(target, sessions.current!.tokens.default!.generation, 'expiry')];
  refresher.pending[0]!.reject(invalidGrant());

  expect(await Promise.all(waiters)).toEqual([null, null]);
  const state = sessions.authState();
  expect(state.status).toBe('login_required');
  expect(state.user).toBeNull();
  expect(state.error?.code).toBe('refresh_rejected');
  expect(events.filter((event) => event.type === 'refresh').map((event) => event.type === 'refresh' && event.phase)).toEqual(['started', 'failed']);

  // No further grant until the next login.
  expect(await sessions.refreshAfter(target, 0, 'expiry')).toBeNull();
  expect(refresher.presented).toHaveLength(1);
});

test('network failure keeps the session', async () => {
  const { sessions, refresher, sleeps, advance, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  const generation = sessions.current!.tokens.default!.generation;
  refresher.failWith = new TypeError('Failed to fetch');

  const session = await sessions.refreshAfter(target, generation, 'expiry');
  expect(session?.accessToken).toBe('at-0');
  // Three attempts in the round, with growing, jittered pauses between them.
  expect(refresher.presented).toEqual(['rt-0', 'rt-0', 'rt-0']);
  expect(sleeps).toEqual([375, 750]);
  expect(sessions.authState().status).toBe('authenticated');
  expect(sessions.authState().error?.code).toBe('refresh_failed');

  // During the pause after a failed round no refresh starts; after it, one does.
  await sessions.refreshAfter(target, generation, 'expiry');
  expect(refresher.presented).toHaveLength(3);
  advance(5_001);
  await sessions.refreshAfter(target, generation, 'expiry');
  expect(refresher.presented).toHaveLength(6);

  // The second failed round in a row pauses twice as long.
  advance(9_000);
  await sessions.refreshAfter(target, generation, 'expiry');
  expect(refresher.presented).toHaveLength(6);
  advance(1_001);
  refresher.failWith = undefined;
  const refreshing = sessions.refreshAfter(target, generation, 'expiry');
  refresher.pending[0]!.resolve(tokens(1, now()));
  expect((await refreshing)?.accessToken).toBe('at-1');
  expect(sessions.authState().error).toBeNull();
});

test('timeout is not retried in the round', async () => {
  const { sessions, refresher, advance, now } = setup(30, { waitLimitMs: 12_000 });
  await sessions.signIn(loginTokens(now()), undefined);
  const generation = sessions.current!.tokens.default!.generation;
  refresher.failWith = new DOMException('The operation timed out.', 'TimeoutError');

  await sessions.refreshAfter(target, generation, 'expiry');
  expect(refresher.presented).toHaveLength(1);
  // The provider may still process the lost request, so the pause is at least the wait limit.
  advance(11_000);
  await sessions.refreshAfter(target, generation, 'expiry');
  expect(refresher.presented).toHaveLength(1);
  advance(1_001);
  await sessions.refreshAfter(target, generation, 'expiry');
  expect(refresher.presented).toHaveLength(2);
});

test('Retry-After ends the round', async () => {
  const { sessions, refresher, sleeps, advance, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  const generation = sessions.current!.tokens.default!.generation;
  const response = new Response(JSON.stringify({ error: 'temporarily_unavailable' }), { status: 503, headers: { 'retry-after': '20' } });
  refresher.failWith = new ResponseBodyError('server responded with an error in the response body', {
    cause: { error: 'temporarily_unavailable' },
    response,
  });

  await sessions.refreshAfter(target, generation, 'expiry');
  // 20 s is longer than a request may wait, so the round ends and the next one waits 20 s.
  expect(refresher.presented).toHaveLength(1);
  expect(sleeps).toEqual([]);
  advance(19_000);
  await sessions.refreshAfter(target, generation, 'expiry');
  expect(refresher.presented).toHaveLength(1);
  advance(1_001);
  await sessions.refreshAfter(target, generation, 'expiry');
  expect(refresher.presented).toHaveLength(2);
});

test('short Retry-After is waited out', async () => {
  const { sessions, refresher, sleeps, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  const response = new Response('busy', { status: 429, headers: { 'retry-after': '2' } });
  refresher.failWith = new ResponseBodyError('server responded with an error in the response body', { cause: { error: 'slow_down' }, response });

  await sessions.refreshAfter(target, sessions.current!.tokens.default!.generation, 'expiry');
  expect(sleeps).toEqual([2000, 2000]);
  expect(refresher.presented).toHaveLength(3);
});

test('rejected fresh token pauses refreshes', async () => {
  const { sessions, refresher, advance, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  const refreshing = sessions.refreshAfter(target, sessions.current!.tokens.default!.generation, 'rejection');
  refresher.pending[0]!.resolve(tokens(1, now()));
  const fresh = (await refreshing)!;

  // The token from that refresh is rejected too: no second refresh, the 401 goes to the page.
  expect(await sessions.refreshAfter(target, fresh.generation, 'rejection')).toEqual(fresh);
  expect(refresher.presented).toHaveLength(1);

  // Expiry still refreshes, and so does a rejection after the pause.
  advance(30_001);
  void sessions.refreshAfter(target, fresh.generation, 'rejection');
  expect(refresher.presented).toHaveLength(2);
});

test('accepted token lifts the pause', async () => {
  const { sessions, refresher, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  const refreshing = sessions.refreshAfter(target, sessions.current!.tokens.default!.generation, 'rejection');
  refresher.pending[0]!.resolve(tokens(1, now()));
  const fresh = (await refreshing)!;

  sessions.noteAccepted(target, fresh.generation);
  void sessions.refreshAfter(target, fresh.generation, 'rejection');
  expect(refresher.presented).toHaveLength(2);
});

test('rotation by another instance is adopted', async () => {
  const { accessToken, expiresAt, lifetimeMs } = tokens(7, 1_000_000);
  const stored = { tokens: { default: { accessToken, expiresAt, lifetimeMs } }, refreshToken: 'rt-7', idToken: undefined, user: { sub: 'alice' }, dpop: false };
  const locks: string[] = [];
  const { sessions, refresher, now } = setup(30, {
    persistence: {
      mayHoldSession: true,
      persists: () => true,
      save: async () => undefined,
      clear: async () => undefined,
      load: async () => ({ kind: 'restored', data: stored, keyPair: undefined }),
    },
    lock: async (task) => {
      locks.push('taken');
      return task();
    },
  });
  await sessions.signIn(loginTokens(now()), undefined);

  const session = await sessions.refreshAfter(target, sessions.current!.tokens.default!.generation, 'expiry');
  expect(session?.accessToken).toBe('at-7');
  expect(sessions.current?.refreshToken).toBe('rt-7');
  expect(refresher.presented).toEqual([]);
  expect(locks).toEqual(['taken']);
});

test('logout discards a late refresh', async () => {
  const { sessions, refresher, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  const refreshing = sessions.refreshAfter(target, sessions.current!.tokens.default!.generation, 'expiry');
  await sessions.signOut();
  refresher.pending[0]!.resolve(tokens(1, now()));

  expect(await refreshing).toBeNull();
  expect(sessions.current).toBeNull();
  expect(sessions.authState().status).toBe('unauthenticated');
  expect(refresher.revoked).toEqual(['rt-1']);
});

test('expired token waits for refresh', async () => {
  const { sessions, refresher, advance, now } = setup(0);
  await sessions.signIn(loginTokens(now(), 10_000), undefined);
  advance(10_000);

  const background: Promise<unknown>[] = [];
  const pending = sessions.credentialFor(target, (promise) => background.push(promise));
  expect(refresher.presented).toEqual(['rt-0']);
  refresher.pending[0]!.resolve(tokens(1, now()));
  const { credential, error } = await pending;
  expect(credential?.accessToken).toBe('at-1');
  expect(error).toBeNull();
});

test('token within leeway refreshes in background', async () => {
  const { sessions, refresher, advance, now } = setup(30);
  // A 40 s token: the leeway is capped at half its life, 20 s.
  await sessions.signIn(loginTokens(now(), 40_000), undefined);

  advance(19_000);
  const background: Promise<unknown>[] = [];
  expect((await sessions.credentialFor(target, (promise) => background.push(promise))).credential?.accessToken).toBe('at-0');
  expect(background).toHaveLength(0);

  advance(2_000);
  expect((await sessions.credentialFor(target, (promise) => background.push(promise))).credential?.accessToken).toBe('at-0');
  expect(background).toHaveLength(1);
  expect(refresher.presented).toEqual(['rt-0']);
});

test('expired token with failing refresh', async () => {
  const { sessions, refresher, advance, now } = setup(0);
  await sessions.signIn(loginTokens(now(), 10_000), undefined);
  advance(10_000);
  refresher.failWith = new TypeError('Failed to fetch');

  const { credential, error } = await sessions.credentialFor(target, () => undefined);
  expect(credential).toBeNull();
  expect(error?.code).toBe('refresh_failed');
  expect(sessions.current?.tokens.default?.accessToken).toBe('at-0');
});

const orders: TokenTarget = { key: 'orders', resource: 'https://orders.example.com/' };
const reports: TokenTarget = { key: 'reports', resource: 'https://reports.example.com/', scope: 'reports:read' };

function invalidTarget(): ResponseBodyError {
  return new ResponseBodyError('server responded with an error in the response body', {
    cause: { error: 'invalid_target', error_description: 'resource indicator is missing, or unknown' },
    response: new Response(null, { status: 400 }),
  });
}

test.describe('several token targets', () => {
  const twoTargets = () => setup(30, { tokenTargets: [orders, reports] });

  test('second target obtained on first use', async () => {
    const { sessions, refresher, now } = twoTargets();
    await sessions.signIn(loginTokens(now()), undefined);
    expect(Object.keys(sessions.current!.tokens)).toEqual(['orders']);

    const pending = sessions.credentialFor(reports, () => undefined);
    expect(refresher.targets).toEqual(['reports']);
    refresher.pending[0]!.resolve(tokens(1, now()));
    expect((await pending).credential?.accessToken).toBe('at-1');

    // Each target keeps its own token; the rotated refresh token serves both.
    expect((await sessions.credentialFor(orders, () => undefined)).credential?.accessToken).toBe('at-0');
    expect(sessions.current?.refreshToken).toBe('rt-1');
    expect(sessions.authState().expiresAt).toBe(now() + 60_000);
  });

  test('refreshes for two targets run one after another with the rotated token', async () => {
    const { sessions, refresher, now } = twoTargets();
    await sessions.signIn(loginTokens(now()), undefined);
    const forOrders = sessions.refreshAfter(orders, sessions.current!.tokens.orders!.generation, 'rejection');
    const forReports = sessions.refreshAfter(reports, 0, 'missing');
    // Every caller for a target shares its flight.
    expect(sessions.refreshAfter(reports, 0, 'missing')).toBe(forReports);
    expect(refresher.presented).toEqual(['rt-0']);

    refresher.pending[0]!.resolve(tokens(1, now()));
    expect((await forOrders)?.accessToken).toBe('at-1');
    await expect.poll(() => refresher.presented).toEqual(['rt-0', 'rt-1']);
    refresher.pending[1]!.resolve(tokens(2, now()));
    expect((await forReports)?.accessToken).toBe('at-2');
    expect(refresher.targets).toEqual(['orders', 'reports']);
    expect(sessions.current?.refreshToken).toBe('rt-2');
    expect(sessions.current?.tokens.orders?.accessToken).toBe('at-1');
  });

  test('a target the provider refuses keeps the session and the other tokens', async () => {
    const { sessions, refresher, advance, now } = twoTargets();
    await sessions.signIn(loginTokens(now()), undefined);
    refresher.failWith = invalidTarget();

    const { credential, error } = await sessions.credentialFor(reports, () => undefined);
    expect(credential).toBeNull();
    expect(error?.code).toBe('refresh_failed');
    expect(error?.message).toContain('resource "https://reports.example.com/"');
    expect(sessions.authState().status).toBe('authenticated');
    expect(sessions.authState().error?.message).toContain('invalid_target');
    expect(refresher.presented).toEqual(['rt-0']);

    // The pause after the refusal holds for that target only.
    await sessions.refreshAfter(reports, 0, 'missing');
    expect(refresher.presented).toHaveLength(1);
    refresher.failWith = undefined;
    const forOrders = sessions.refreshAfter(orders, sessions.current!.tokens.orders!.generation, 'expiry');
    expect(refresher.targets).toEqual(['reports', 'orders']);
    refresher.pending[0]!.resolve(tokens(1, now()));
    expect((await forOrders)?.accessToken).toBe('at-1');
    advance(5_001);
    void sessions.refreshAfter(reports, 0, 'missing');
    expect(refresher.targets).toEqual(['reports', 'orders', 'reports']);
  });

  test('a refresh token stored by another instance is redeemed, never the spent one', async () => {
    const { accessToken, expiresAt, lifetimeMs } = tokens(7, 1_000_000);
    // Another instance rotated the refresh token while renewing the orders token.
    const stored = { tokens: { orders: { accessToken, expiresAt, lifetimeMs } }, refreshToken: 'rt-7', idToken: undefined, user: { sub: 'alice' }, dpop: false };
    const { sessions, refresher, now } = setup(30, {
      tokenTargets: [orders, reports],
      persistence: {
        mayHoldSession: true,
        persists: () => true,
        save: async () => undefined,
        clear: async () => undefined,
        load: async () => ({ kind: 'restored', data: stored, keyPair: undefined }),
      },
    });
    await sessions.signIn(loginTokens(now()), undefined);

    const forReports = sessions.refreshAfter(reports, 0, 'missing');
    await expect.poll(() => refresher.presented).toEqual(['rt-7']);
    refresher.pending[0]!.resolve(tokens(8, now()));
    expect((await forReports)?.accessToken).toBe('at-8');
    expect(sessions.current?.tokens.orders?.accessToken).toBe('at-7');
    expect(sessions.current?.refreshToken).toBe('rt-8');
  });

  test('no refresh token: the missing target fails, the session stays', async () => {
    const { sessions, now } = twoTargets();
    await sessions.signIn({ ...loginTokens(now()), refreshToken: undefined }, undefined);
    const { credential, error } = await sessions.credentialFor(reports, () => undefined);
    expect(credential).toBeNull();
    expect(error?.code).toBe('refresh_failed');
    expect(sessions.authState().error?.message).toContain('provider issued no refresh token');
    expect(sessions.authState().status).toBe('authenticated');
    expect((await sessions.credentialFor(orders, () => undefined)).credential?.accessToken).toBe('at-0');
  });
});
