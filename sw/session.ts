// The signed-in session: tokens in worker memory (and, by configuration, in IndexedDB), the
// auth state pages see, and the single-flight refresh shared by every request from every tab.
// A session contains one refresh token and one access token per token target (resource).
import { GuardianError, toErrorInfo, type ErrorInfo } from './errors.ts';
import { devLog } from './dev-log.ts';
import { warn } from './log.ts';
import type { AuthState, AuthStatus, GuardianEvent } from './protocol.ts';
import { describeProviderError, type LoginTokens, type TokenSet } from './provider.ts';
import { runRefreshRound, type RefreshLock, type RefreshOutcome } from './refresh-round.ts';
import type { TokenTarget } from './resources.ts';
import { cooldownMs, type RefreshFailure } from './retry-policy.ts';
import type { AccessTokenData, LoadedSession, SessionData } from './session-store.ts';

/** An access token in memory, with a generation that changes whenever the token is replaced. */
export interface LiveToken extends AccessTokenData {
  readonly generation: number;
}

export interface Session extends Readonly<Omit<SessionData, 'tokens'>> {
  /** Access tokens by token target key. A target without a token yet has no entry. */
  readonly tokens: Readonly<Record<string, LiveToken>>;
  /** DPoP key pair the tokens are bound to; undefined for bearer tokens. */
  readonly keyPair: CryptoKeyPair | undefined;
}

/** The credential of one request: one token target's access token and the key pair it is bound to. */
export interface Credential {
  readonly accessToken: string;
  readonly keyPair: CryptoKeyPair | undefined;
  /** Increases with every new token, so a request can see that its token was replaced. */
  readonly generation: number;
}

/** Provider operations the session uses, implemented by `ProviderClient`. */
export interface TokenRefresher {
  refresh(refreshToken: string, keyPair: CryptoKeyPair | undefined, target: TokenTarget): Promise<TokenSet>;
  revoke(token: string, tokenTypeHint: 'refresh_token' | 'access_token'): Promise<boolean>;
}

/** Session storage, implemented by `SessionStore`. */
export interface SessionPersistence {
  readonly mayHoldSession: boolean;
  persists(data: Pick<SessionData, 'dpop'>): boolean;
  save(data: SessionData, keyPair: CryptoKeyPair | undefined): Promise<void>;
  load(): Promise<LoadedSession>;
  clear(): Promise<void>;
}

export interface SessionOptions {
  refresher: TokenRefresher;
  /** The configured token targets; the login's code exchange returns the first one's token. */
  tokenTargets: readonly TokenTarget[];
  /** Storage in which sessions outlive the worker; without it they live in memory only. */
  persistence?: SessionPersistence;
  refreshLeewaySeconds: number;
  emit: (event: GuardianEvent) => void;
  /** Serializes refreshes across worker instances; without it they are serialized per instance. */
  lock?: RefreshLock;
  /**
   * Maximum time a request waits for a refresh, in ms, before it settles with the resource's 401
   * or a 503 `refresh_failed`. Also the minimum pause after a timed-out refresh. Default 10000.
   */
  waitLimitMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** The credential a request should carry, or the reason it has none. */
export interface RequestCredential {
  /** Null when no session exists, or when `error` is set. */
  credential: Credential | null;
  /** Set when the token expired or was never obtained, and no new one arrived in time. */
  error: GuardianError | null;
}

/**
 * Why a refresh is requested: the token's lifetime ran out, a resource rejected it, or the
 * target has no token yet.
 */
export type RefreshReason = 'expiry' | 'rejection' | 'missing';

// A token obtained by a rejection-triggered refresh that is rejected again, before any
// resource accepted it, triggers no further refresh for this long.
const rejectionRefreshPauseMs = 30_000;

function describeTarget(target: TokenTarget): string {
  if (target.resource !== undefined) return `resource "${target.resource}"`;
  if (target.audience !== undefined) return `audience "${target.audience}"`;
  if (target.scope !== undefined) return `scope "${target.scope}"`;
  return 'the default audience';
}

export class SessionManager {
  readonly #options: SessionOptions;
  readonly #now: () => number;
  readonly #primary: TokenTarget;
  #session: Session | null = null;
  #status: AuthStatus = 'unauthenticated';
  #error: ErrorInfo | null = null;
  #generation = 0;
  #refreshCount = 0;
  // One flight per token target; flights for different targets run one after another, because
  // each one rotates the refresh token the next one presents.
  readonly #flights = new Map<string, Promise<Credential | null>>();
  #queue: Promise<unknown> = Promise.resolve();
  readonly #retryNotBefore = new Map<string, number>();
  readonly #failedRounds = new Map<string, number>();
  // The token that the latest rejection-triggered refresh produced, per target, until a resource accepts it.
  readonly #unproven = new Map<string, { generation: number; at: number }>();
  #loading: Promise<void> | null = null;
  #loaded: boolean;

  constructor(options: SessionOptions) {
    if (options.tokenTargets.length === 0) throw new Error('SessionManager needs at least one token target');
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#primary = options.tokenTargets[0]!;
    this.#loaded = options.persistence?.mayHoldSession !== true;
  }

  get current(): Session | null {
    return this.#session;
  }

  /** True once the stored session, if any, has been read, so `current` is the whole truth. */
  get loaded(): boolean {
    return this.#loaded;
  }

  /**
   * Reads the stored session once per worker life. A stored session that cannot be used ends in
   * `login_required` with `session_lost`, and is deleted so the next start does not retry it.
   */
  ready(): Promise<void> {
    if (this.#loaded) return Promise.resolve();
    this.#loading ??= this.#load().finally(() => {
      this.#loaded = true;
    });
    return this.#loading;
  }

  async #load(): Promise<void> {
    const persistence = this.#options.persistence!;
    let loaded: LoadedSession;
    try {
      loaded = await persistence.load();
    } catch (error) {
      loaded = { kind: 'unusable', reason: `reading IndexedDB failed (${String(error)})` };
    }
    // A login that finished while the store was being read wins over the stored session.
    if (this.#session !== null || loaded.kind === 'none') return;

    if (loaded.kind === 'restored') {
      this.#session = this.#fromStored(loaded.data, loaded.keyPair, null);
      this.#status = 'authenticated';
      return;
    }
    warn(`stored session dropped: ${loaded.reason}`);
    await this.signOut('login_required', new GuardianError('session_lost', `sw-token-guardian: ${loaded.reason}; log in again`));
  }

  /**
   * Builds a session from stored data. Tokens of targets this worker no longer configures are
   * left out; a token equal to one of `previous` keeps its generation.
   */
  #fromStored(data: SessionData, keyPair: CryptoKeyPair | undefined, previous: Session | null): Session {
    const tokens: Record<string, LiveToken> = {};
    for (const target of this.#options.tokenTargets) {
      const token = data.tokens[target.key];
      if (token === undefined) continue;
      const previousToken = previous?.tokens[target.key];
      tokens[target.key] = previousToken?.accessToken === token.accessToken ? previousToken : { ...token, generation: ++this.#generation };
    }
    return { ...data, tokens, keyPair };
  }

  async #persist(session: Session): Promise<void> {
    const persistence = this.#options.persistence;
    if (persistence === undefined) return;
    const { keyPair, tokens: liveTokens, ...rest } = session;
    const tokens: Record<string, AccessTokenData> = {};
    for (const [key, token] of Object.entries(liveTokens)) {
      tokens[key] = { accessToken: token.accessToken, expiresAt: token.expiresAt, lifetimeMs: token.lifetimeMs };
    }
    try {
      await persistence.save({ ...rest, tokens }, keyPair);
      // A logout during the write must not leave the session stored.
      if (this.#session !== session) await persistence.clear();
    } catch (error) {
      // The session goes on in memory; it is lost when the browser stops the worker.
      warn('saving the session to IndexedDB failed, so it lives in memory only', error);
      this.#error = toErrorInfo(
        new GuardianError('storage_failed', `sw-token-guardian: saving the session in IndexedDB failed (${String(error)}), so it lives in memory only and ends when the browser stops the worker`),
      );
    }
  }

  authState(): AuthState {
    const session = this.#session;
    return {
      status: this.#status,
      user: session === null ? null : { ...session.user },
      expiresAt: session?.tokens[this.#primary.key]?.expiresAt ?? null,
      error: this.#error,
    };
  }

  #emitState(): void {
    this.#options.emit({ type: 'state', state: this.authState() });
  }

  #credential(session: Session | null, key: string): Credential | null {
    const token = session?.tokens[key];
    if (session === null || token === undefined) return null;
    return { accessToken: token.accessToken, keyPair: session.keyPair, generation: token.generation };
  }

  #resetRefreshState(): void {
    this.#retryNotBefore.clear();
    this.#failedRounds.clear();
    this.#unproven.clear();
  }

  /**
   * Replaces any session with a new login's tokens and stores it as configured. The login's
   * access token belongs to the first token target.
   */
  async signIn(tokens: LoginTokens, keyPair: CryptoKeyPair | undefined): Promise<void> {
    const { accessToken, expiresAt, lifetimeMs, refreshToken, idToken, user } = tokens;
    const session: Session = {
      tokens: { [this.#primary.key]: { accessToken, expiresAt, lifetimeMs, generation: ++this.#generation } },
      refreshToken,
      idToken,
      user,
      dpop: keyPair !== undefined,
      keyPair,
    };
    this.#session = session;
    this.#loaded = true;
    this.#status = 'authenticated';
    this.#error = null;
    this.#resetRefreshState();
    await this.#persist(session);
    this.#emitState();
  }

  /**
   * Forgets the session in memory at once, so a refresh still in flight is discarded when it
   * lands, then deletes the stored copy. Returns the session that was dropped.
   */
  async signOut(status: AuthStatus = 'unauthenticated', error: GuardianError | null = null): Promise<Session | null> {
    const dropped = this.#session;
    this.#session = null;
    this.#status = status;
    this.#error = error === null ? null : toErrorInfo(error);
    this.#generation++;
    this.#resetRefreshState();
    this.#emitState();
    try {
      await this.#options.persistence?.clear();
    } catch (cause) {
      warn('deleting the stored session failed', cause);
    }
    return dropped;
  }

  /** Records an error that leaves the session as it is, such as a failed callback. */
  reportError(error: GuardianError): void {
    this.#error = toErrorInfo(error);
    this.#emitState();
  }

  /**
   * Returns the credential a request to `target` should carry. An expired or missing token
   * waits, at most `waitLimitMs`, for the shared refresh. A token within the leeway is still
   * used while a refresh runs in the background, and that refresh is passed to `background` so
   * the caller can keep the worker alive.
   */
  async credentialFor(target: TokenTarget, background: (refresh: Promise<unknown>) => void): Promise<RequestCredential> {
    const session = this.#session;
    if (session === null) return { credential: null, error: null };
    const token = session.tokens[target.key];
    if (token !== undefined && token.expiresAt === null) return { credential: this.#credential(session, target.key), error: null };

    if (token !== undefined) {
      const remainingMs = token.expiresAt! - this.#now();
      if (remainingMs > 0) {
        if (remainingMs <= this.#leewayMs(token)) background(this.refreshAfter(target, token.generation, 'expiry'));
        return { credential: this.#credential(session, target.key), error: null };
      }
    }

    const seenGeneration = token?.generation ?? 0;
    const refreshing = this.refreshAfter(target, seenGeneration, token === undefined ? 'missing' : 'expiry');
    background(refreshing);
    const renewed = await this.waitLimited(refreshing);
    if (renewed !== undefined && renewed !== null && renewed.generation !== seenGeneration) return { credential: renewed, error: null };
    // The refresh ended the session: the request goes out without credentials, as after a logout.
    if (this.#session === null) return { credential: null, error: null };

    const reason = renewed === undefined ? `no new token arrived within ${this.#waitLimitMs} ms` : 'the refresh failed';
    const problem = token === undefined ? `no access token for ${describeTarget(target)} was obtained yet` : `the access token for ${describeTarget(target)} expired`;
    return { credential: null, error: new GuardianError('refresh_failed', `sw-token-guardian: ${problem} and ${reason}; the session is kept`) };
  }

  get #waitLimitMs(): number {
    return this.#options.waitLimitMs ?? 10_000;
  }

  /** Resolves like `promise`, or to undefined after `waitLimitMs`. */
  waitLimited<T>(promise: Promise<T>): Promise<T | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.#waitLimitMs);
    });
    return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
  }

  #leewayMs(token: LiveToken): number {
    const leewayMs = this.#options.refreshLeewaySeconds * 1000;
    // A leeway longer than the token's life would refresh on every request.
    return token.lifetimeMs === null ? leewayMs : Math.min(leewayMs, token.lifetimeMs / 2);
  }

  /** Records that a resource accepted `target`'s token of `generation`, which lifts the rejection pause. */
  noteAccepted(target: TokenTarget, generation: number): void {
    if (this.#unproven.get(target.key)?.generation === generation) this.#unproven.delete(target.key);
  }

  /** Lets the next refresh start at once, for example when the page reports it is back online. */
  resumeRefreshing(): Promise<unknown> {
    this.#retryNotBefore.clear();
    this.#failedRounds.clear();
    const session = this.#session;
    if (session === null) return Promise.resolve();
    const due = this.#options.tokenTargets.flatMap((target) => {
      const token = session.tokens[target.key];
      if (token === undefined || token.expiresAt === null || token.expiresAt - this.#now() > this.#leewayMs(token)) return [];
      return [this.refreshAfter(target, token.generation, 'expiry')];
    });
    return Promise.all(due);
  }

  /**
   * Returns a credential for `target` newer than `seenGeneration` (0 when the caller had no
   * token), refreshing once if none exists yet. Every caller that saw the same generation shares
   * one refresh. Resolves to the unchanged credential when no refresh ran or it failed for a
   * transient reason, and to null when the session ended or the target still has no token.
   */
  refreshAfter(target: TokenTarget, seenGeneration: number, reason: RefreshReason): Promise<Credential | null> {
    const session = this.#session;
    const key = target.key;
    if (session === null || (session.tokens[key]?.generation ?? 0) !== seenGeneration) return Promise.resolve(this.#credential(session, key));
    const flight = this.#flights.get(key);
    if (flight !== undefined) return flight;
    if (this.#now() < (this.#retryNotBefore.get(key) ?? 0)) return Promise.resolve(this.#credential(session, key));

    const unproven = this.#unproven.get(key);
    if (reason === 'rejection' && unproven?.generation === seenGeneration && this.#now() - unproven.at < rejectionRefreshPauseMs) {
      // A fresh token was rejected too, so another refresh would not help (wrong audience, a
      // server bug). The request gets the resource's 401 instead of starting a refresh loop.
      return Promise.resolve(this.#credential(session, key));
    }

    // With no other flight running, the refresh starts at once rather than a turn later.
    const run = () => this.#refresh(target, seenGeneration, reason);
    const attempt = (this.#flights.size === 0 ? run() : this.#queue.then(run))
      .finally(() => {
        if (this.#flights.get(key) === attempt) this.#flights.delete(key);
      });
    this.#queue = attempt.catch(() => undefined);
    this.#flights.set(key, attempt);
    return attempt;
  }

  async #refresh(target: TokenTarget, seenGeneration: number, reason: RefreshReason): Promise<Credential | null> {
    const key = target.key;
    // The flight may have waited behind another target's; the session may have changed meanwhile.
    const session = this.#session;
    if (session === null || (session.tokens[key]?.generation ?? 0) !== seenGeneration) return this.#credential(session, key);

    const refreshId = ++this.#refreshCount;
    const startedAt = this.#now();
    const emit = this.#options.emit;
    emit({ type: 'refresh', phase: 'started', refreshId });
    if (process.env.NODE_ENV !== 'production') devLog(`refresh #${refreshId} started (${reason}, ${describeTarget(target)})`);

    if (session.refreshToken === undefined) return this.#withoutRefreshToken(session, target, refreshId, reason);

    const persistence = this.#options.persistence;
    const outcome: RefreshOutcome = await runRefreshRound({
      refreshToken: session.refreshToken,
      keyPair: session.keyPair,
      tokenKey: key,
      seenAccessToken: session.tokens[key]?.accessToken,
      refresh: (refreshToken, keyPair) => this.#options.refresher.refresh(refreshToken, keyPair, target),
      loadStored: persistence?.persists(session) ? () => persistence.load() : undefined,
      lock: this.#options.lock,
      isCurrent: () => this.#session === session,
      now: this.#now,
      ...(this.#options.sleep === undefined ? {} : { sleep: this.#options.sleep }),
      ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
    });

    if (outcome.kind === 'failed') return this.#refreshFailed(session, target, refreshId, startedAt, outcome.failure, outcome.cause);
    if (this.#session !== session) {
      // A logout or a new login replaced the session while the round ran.
      if (outcome.kind === 'refreshed') this.#discard(outcome.tokens);
      return this.#credential(this.#session, key);
    }

    let next: Session;
    if (outcome.kind === 'adopted') {
      next = this.#fromStored(outcome.data, outcome.keyPair, session);
    } else {
      const base = outcome.base === undefined ? session : this.#fromStored(outcome.base.data, outcome.base.keyPair, session);
      const { accessToken, expiresAt, lifetimeMs } = outcome.tokens;
      next = {
        ...base,
        tokens: { ...base.tokens, [key]: { accessToken, expiresAt, lifetimeMs, generation: ++this.#generation } },
        // Rotation: the new refresh token replaces the spent one before any waiter resumes.
        refreshToken: outcome.tokens.refreshToken ?? base.refreshToken,
        idToken: outcome.tokens.idToken ?? base.idToken,
      };
    }
    this.#session = next;
    this.#status = 'authenticated';
    this.#error = null;
    this.#failedRounds.delete(key);
    const renewed = this.#credential(next, key);
    if (reason === 'rejection' && renewed !== null) this.#unproven.set(key, { generation: renewed.generation, at: this.#now() });
    else this.#unproven.delete(key);
    // Stored before any waiter resumes, so a worker stopped right after never restores the spent token.
    if (outcome.kind === 'refreshed') await this.#persist(next);
    emit({ type: 'refresh', phase: 'succeeded', refreshId, durationMs: this.#now() - startedAt });
    if (process.env.NODE_ENV !== 'production') devLog(`refresh #${refreshId} ${outcome.kind} in ${this.#now() - startedAt} ms`);
    this.#emitState();
    return renewed;
  }

  /**
   * Without a refresh token, an expired token needs a new login. A target that never had a
   * token cannot get one either, but the tokens the session has stay usable.
   */
  async #withoutRefreshToken(session: Session, target: TokenTarget, refreshId: number, reason: RefreshReason): Promise<Credential | null> {
    const fix = 'include "offline_access" in the scope';
    if (reason === 'missing') {
      const error = new GuardianError('refresh_failed', `sw-token-guardian: no access token for ${describeTarget(target)} can be obtained, because the provider issued no refresh token; ${fix}`);
      this.#options.emit({ type: 'refresh', phase: 'failed', refreshId, durationMs: 0, error: toErrorInfo(error) });
      this.reportError(error);
      return this.#credential(session, target.key);
    }
    const error = new GuardianError('refresh_rejected', `sw-token-guardian: the access token expired and the provider issued no refresh token; ${fix}, or log in again`);
    this.#options.emit({ type: 'refresh', phase: 'failed', refreshId, durationMs: 0, error: toErrorInfo(error) });
    await this.signOut('login_required', error);
    return null;
  }

  async #refreshFailed(session: Session, target: TokenTarget, refreshId: number, startedAt: number, failure: RefreshFailure, cause: unknown): Promise<Credential | null> {
    const durationMs = this.#now() - startedAt;
    const key = target.key;
    if (this.#session !== session) return this.#credential(this.#session, key);

    if (failure.kind === 'rejected') {
      const error = new GuardianError('refresh_rejected', `sw-token-guardian: the provider rejected the refresh token, so a new login is needed: ${describeProviderError(cause)}`);
      warn(`refresh #${refreshId} rejected, session ended`, cause);
      this.#options.emit({ type: 'refresh', phase: 'failed', refreshId, durationMs, error: toErrorInfo(error) });
      await this.signOut('login_required', error);
      return null;
    }

    // A timed-out request may still be processed by the provider, so the next round waits at
    // least as long as a request may take.
    const failedRounds = (this.#failedRounds.get(key) ?? 0) + 1;
    this.#failedRounds.set(key, failedRounds);
    const pauseMs = Math.max(cooldownMs(failedRounds, this.#options.random), failure.retryAfterMs ?? 0, failure.kind === 'timeout' ? this.#waitLimitMs : 0);
    this.#retryNotBefore.set(key, this.#now() + pauseMs);
    const error = new GuardianError(
      'refresh_failed',
      `sw-token-guardian: the refresh for ${describeTarget(target)} failed and will be tried again in ${Math.round(pauseMs / 1000)} s; the session is kept: ${describeProviderError(cause)}`,
    );
    warn(`refresh #${refreshId} failed (${failure.kind}), session kept, next try in ${pauseMs} ms`, cause);
    this.#error = toErrorInfo(error);
    this.#options.emit({ type: 'refresh', phase: 'failed', refreshId, durationMs, error: toErrorInfo(error) });
    this.#emitState();
    return this.#credential(session, key);
  }

  #discard(tokens: TokenSet): void {
    if (tokens.refreshToken === undefined) return;
    // The rotated refresh token belongs to no session any more; revoke it so it cannot linger.
    this.#options.refresher.revoke(tokens.refreshToken, 'refresh_token').catch((error: unknown) => {
      warn('revoking a refresh token that arrived after logout failed', error);
    });
  }
}
