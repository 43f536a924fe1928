import { expect, test } from '@playwright/test';
import { ResponseBodyError } from 'oauth4webapi';
import type { GuardianEvent } from './protocol.ts';
import type { LoginTokens, TokenSet } from './provider.ts';
import { SessionManager, type TokenRefresher } from './session.ts';

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
  readonly revoked: string[] = [];
  readonly pending: Deferred<TokenSet>[] = [];

  refresh(refreshToken: string, _keyPair: CryptoKeyPair | undefined): Promise<TokenSet> {
    this.presented.push(refreshToken);
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

function setup(leewaySeconds = 30) {
  let now = 1_000_000;
  const events: GuardianEvent[] = [];
  const refresher = new FakeRefresher();
  const sessions = new SessionManager({ refresher, refreshLeewaySeconds: leewaySeconds, emit: (event) => events.push(event), now: () => now });
  return { sessions, refresher, events, advance: (ms: number) => (now += ms), now: () => now };
}

test('concurrent callers share one refresh', async () => {
  const { sessions, refresher, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  const seen = sessions.current!.generation;

  const waiters = Array.from({ length: 50 }, () => sessions.refreshAfter(seen));
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
  const first = sessions.current!.generation;
  const refreshing = sessions.refreshAfter(first);
  refresher.pending[0]!.resolve(tokens(1, now()));
  await refreshing;

  // A request that was sent with the old token retries with the new one, without a refresh.
  const session = await sessions.refreshAfter(first);
  expect(session?.accessToken).toBe('at-1');
  expect(refresher.presented).toEqual(['rt-0']);
});

test('rotation never presents a spent token', async () => {
  const { sessions, refresher, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  for (let round = 1; round <= 3; round++) {
    const refreshing = sessions.refreshAfter(sessions.current!.generation);
    refresher.pending[round - 1]!.resolve(tokens(round, now()));
    await refreshing;
  }
  expect(refresher.presented).toEqual(['rt-0', 'rt-1', 'rt-2']);
});

test('provider without rotation keeps refresh token', async () => {
  const { sessions, refresher, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  const refreshing = sessions.refreshAfter(sessions.current!.generation);
  refresher.pending[0]!.resolve({ ...tokens(1, now()), refreshToken: undefined });
  await refreshing;
  expect(sessions.current?.refreshToken).toBe('rt-0');
  expect(sessions.current?.accessToken).toBe('at-1');
});

test('invalid_grant ends the session', async () => {
  const { sessions, refresher, events, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  const waiters = [sessions.refreshAfter(sessions.current!.generation), sessions.refreshAfter(sessions.current!.generation)];
  refresher.pending[0]!.reject(invalidGrant());

  expect(await Promise.all(waiters)).toEqual([null, null]);
  const state = sessions.authState();
  expect(state.status).toBe('login_required');
  expect(state.user).toBeNull();
  expect(state.error?.code).toBe('refresh_rejected');
  expect(events.filter((event) => event.type === 'refresh').map((event) => event.type === 'refresh' && event.phase)).toEqual(['started', 'failed']);

  // No further grant until the next login.
  expect(await sessions.refreshAfter(0)).toBeNull();
  expect(refresher.presented).toHaveLength(1);
});

test('network failure keeps the session', async () => {
  const { sessions, refresher, advance, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  const generation = sessions.current!.generation;
  const refreshing = sessions.refreshAfter(generation);
  refresher.pending[0]!.reject(new TypeError('Failed to fetch'));

  const session = await refreshing;
  expect(session?.accessToken).toBe('at-0');
  expect(sessions.authState().status).toBe('authenticated');
  expect(sessions.authState().error?.code).toBe('refresh_failed');

  // During the pause after a failure no refresh starts; after it, one does.
  await sessions.refreshAfter(generation);
  expect(refresher.presented).toHaveLength(1);
  advance(5_001);
  void sessions.refreshAfter(generation);
  expect(refresher.presented).toHaveLength(2);
});

test('logout discards a late refresh', async () => {
  const { sessions, refresher, now } = setup();
  await sessions.signIn(loginTokens(now()), undefined);
  const refreshing = sessions.refreshAfter(sessions.current!.generation);
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
  const pending = sessions.sessionForRequest((promise) => background.push(promise));
  expect(refresher.presented).toEqual(['rt-0']);
  refresher.pending[0]!.resolve(tokens(1, now()));
  expect((await pending)?.accessToken).toBe('at-1');
  expect(background).toHaveLength(0);
});

test('token within leeway refreshes in background', async () => {
  const { sessions, refresher, advance, now } = setup(30);
  // A 40 s token: the leeway is capped at half its life, 20 s.
  await sessions.signIn(loginTokens(now(), 40_000), undefined);

  advance(19_000);
  const background: Promise<unknown>[] = [];
  expect((await sessions.sessionForRequest((promise) => background.push(promise)))?.accessToken).toBe('at-0');
  expect(background).toHaveLength(0);

  advance(2_000);
  expect((await sessions.sessionForRequest((promise) => background.push(promise)))?.accessToken).toBe('at-0');
  expect(background).toHaveLength(1);
  expect(refresher.presented).toEqual(['rt-0']);
});
