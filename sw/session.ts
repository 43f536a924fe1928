// The signed-in session: tokens in worker memory (and, by configuration, in IndexedDB), the
// auth state pages see, and the single-flight refresh shared by every request from every tab.
import { GuardianError, toErrorInfo, type ErrorInfo } from './errors.ts';
import { devLog } from './dev-log.ts';
import { warn } from './log.ts';
import type { AuthState, AuthStatus, GuardianEvent } from './protocol.ts';
import { describeProviderError, type LoginTokens, type TokenSet } from './provider.ts';
import { runRefreshRound, type RefreshLock, type RefreshOutcome } from './refresh-round.ts';
import { cooldownMs, type RefreshFailure } from './retry-policy.ts';
import type { LoadedSession, SessionData } from './session-store.ts';

export interface Session extends Readonly<SessionData> {
  /** DPoP key pair the tokens are bound to; undefined for bearer tokens. */
  readonly keyPair: CryptoKeyPair | undefined;
  /** Counter that increases with every new session and every refresh, so a request can see that its token was replaced. */
  readonly generation: number;
}

/** Provider operations the session uses, implemented by `ProviderClient`. */
export interface TokenRefresher {
  refresh(refreshToken: string, keyPair: CryptoKeyPair | undefined): Promise<TokenSet>;
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

/** The session a request should use, or the reason it has no usable token. */
export interface RequestSession {
  session: Session | null;
  /** Set when the token expired and no new one arrived in time. */
  error: GuardianError | null;
}

/** Why a refresh is requested: the token's lifetime ran out, or a resource rejected it. */
export type RefreshReason = 'expiry' | 'rejection';

// A token obtained by a rejection-triggered refresh that is rejected again, before any
// resource accepted it, triggers no further refresh for this long.
const rejectionRefreshPauseMs = 30_000;

export class SessionManager {
  readonly #options: SessionOptions;
  readonly #now: () => number;
  #session: Session | null = null;
  #status: AuthStatus = 'unauthenticated';
  #error: ErrorInfo | null = null;
  #generation = 0;
  #refreshCount = 0;
  #refreshing: Promise<Session | null> | null = null;
  #retryNotBefore = 0;
  #failedRounds = 0;
  // The token that the latest rejection-triggered refresh produced, until a resource accepts it.
  #unprovenGeneration: { generation: number; at: number } | null = null;
  #loading: Promise<void> | null = null;
  #loaded: boolean;

  constructor(options: SessionOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
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
      this.#session = { ...loaded.data, keyPair: loaded.keyPair, generation: ++this.#generation };
      this.#status = 'authenticated';
      return;
    }
    warn(`stored session dropped: ${loaded.reason}`);
    await this.signOut('login_required', new GuardianError('session_lost', `sw-token-guardian: ${loaded.reason}; log in again`));
  }

  async #persist(session: Session): Promise<void> {
    const persistence = this.#options.persistence;
    if (persistence === undefined) return;
    const { keyPair, generation: _generation, ...data } = session;
    try {
      await persistence.save(data, keyPair);
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
      expiresAt: session?.expiresAt ?? null,
      error: this.#error,
    };
  }

  #emitState(): void {
    this.#options.emit({ type: 'state', state: this.authState() });
  }

  /** Replaces any session with a new login's tokens and stores it as configured. */
  async signIn(tokens: LoginTokens, keyPair: CryptoKeyPair | undefined): Promise<void> {
    const session: Session = { ...tokens, dpop: keyPair !== undefined, keyPair, generation: ++this.#generation };
    this.#session = session;
    this.#loaded = true;
    this.#status = 'authenticated';
    this.#error = null;
    this.#retryNotBefore = 0;
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
   * Returns the session whose token a request should carry. An expired token waits, at most
   * `waitLimitMs`, for the shared refresh. A token within the leeway is still used while a
   * refresh runs in the background, and that refresh is passed to `background` so the caller
   * can keep the worker alive.
   */
  async sessionForRequest(background: (refresh: Promise<unknown>) => void): Promise<RequestSession> {
    const session = this.#session;
    if (session === null || session.expiresAt === null) return { session, error: null };

    const remainingMs = session.expiresAt - this.#now();
    if (remainingMs > 0) {
      if (remainingMs <= this.#leewayMs(session)) background(this.refreshAfter(session.generation, 'expiry'));
      return { session, error: null };
    }

    const refreshing = this.refreshAfter(session.generation, 'expiry');
    background(refreshing);
    const renewed = await this.waitLimited(refreshing);
    if (renewed === undefined || renewed?.generation === session.generation) {
      const reason = renewed === undefined ? `no new token arrived within ${this.#waitLimitMs} ms` : 'the refresh failed';
      return { session: null, error: new GuardianError('refresh_failed', `sw-token-guardian: the access token expired and ${reason}; the session is kept`) };
    }
    return { session: renewed, error: null };
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

  #leewayMs(session: Session): number {
    const leewayMs = this.#options.refreshLeewaySeconds * 1000;
    // A leeway longer than the token's life would refresh on every request.
    return session.lifetimeMs === null ? leewayMs : Math.min(leewayMs, session.lifetimeMs / 2);
  }

  /** Records that a resource accepted the token of `generation`, which lifts the rejection pause. */
  noteAccepted(generation: number): void {
    if (this.#unprovenGeneration?.generation === generation) this.#unprovenGeneration = null;
  }

  /** Lets the next refresh start at once, for example when the page reports it is back online. */
  resumeRefreshing(): Promise<unknown> {
    this.#retryNotBefore = 0;
    this.#failedRounds = 0;
    const session = this.#session;
    if (session === null || session.expiresAt === null) return Promise.resolve();
    if (session.expiresAt - this.#now() > this.#leewayMs(session)) return Promise.resolve();
    return this.refreshAfter(session.generation, 'expiry');
  }

  /**
   * Returns a session newer than `seenGeneration`, refreshing once if none exists yet. Every
   * caller that saw the same generation shares one refresh. Resolves to the unchanged session
   * when no refresh ran or it failed for a transient reason, and to null when the session ended.
   */
  refreshAfter(seenGeneration: number, reason: RefreshReason): Promise<Session | null> {
    const session = this.#session;
    if (session === null || session.generation !== seenGeneration) return Promise.resolve(session);
    if (this.#refreshing !== null) return this.#refreshing;
    if (this.#now() < this.#retryNotBefore) return Promise.resolve(session);

    const unproven = this.#unprovenGeneration;
    if (reason === 'rejection' && unproven?.generation === seenGeneration && this.#now() - unproven.at < rejectionRefreshPauseMs) {
      // A fresh token was rejected too, so another refresh would not help (wrong audience, a
      // server bug). The request gets the resource's 401 instead of starting a refresh loop.
      return Promise.resolve(session);
    }

    const attempt = this.#refresh(session, reason).finally(() => {
      if (this.#refreshing === attempt) this.#refreshing = null;
    });
    this.#refreshing = attempt;
    return attempt;
  }

  async #refresh(session: Session, reason: RefreshReason): Promise<Session | null> {
    const refreshId = ++this.#refreshCount;
    const startedAt = this.#now();
    const emit = this.#options.emit;
    emit({ type: 'refresh', phase: 'started', refreshId });
    if (process.env.NODE_ENV !== 'production') devLog(`refresh #${refreshId} started (${reason})`);

    if (session.refreshToken === undefined) {
      const error = new GuardianError('refresh_rejected', 'sw-token-guardian: the access token expired and the provider issued no refresh token; include "offline_access" in the scope, or log in again');
      emit({ type: 'refresh', phase: 'failed', refreshId, durationMs: 0, error: toErrorInfo(error) });
      await this.signOut('login_required', error);
      return null;
    }

    const persistence = this.#options.persistence;
    const outcome: RefreshOutcome = await runRefreshRound({
      refreshToken: session.refreshToken,
      keyPair: session.keyPair,
      refresh: (refreshToken, keyPair) => this.#options.refresher.refresh(refreshToken, keyPair),
      loadStored: persistence?.persists(session) ? () => persistence.load() : undefined,
      lock: this.#options.lock,
      isCurrent: () => this.#session === session,
      now: this.#now,
      ...(this.#options.sleep === undefined ? {} : { sleep: this.#options.sleep }),
      ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
    });

    if (outcome.kind === 'failed') return this.#refreshFailed(session, refreshId, startedAt, outcome.failure, outcome.cause);
    if (this.#session !== session) {
      // A logout or a new login replaced the session while the round ran.
      if (outcome.kind === 'refreshed') this.#discard(outcome.tokens);
      return this.#session;
    }

    const next: Session =
      outcome.kind === 'adopted'
        ? { ...outcome.data, keyPair: outcome.keyPair, generation: ++this.#generation }
        : {
            ...session,
            accessToken: outcome.tokens.accessToken,
            // Rotation: the new refresh token replaces the spent one before any waiter resumes.
            refreshToken: outcome.tokens.refreshToken ?? session.refreshToken,
            idToken: outcome.tokens.idToken ?? session.idToken,
            expiresAt: outcome.tokens.expiresAt,
            lifetimeMs: outcome.tokens.lifetimeMs,
            generation: ++this.#generation,
          };
    this.#session = next;
    this.#status = 'authenticated';
    this.#error = null;
    this.#failedRounds = 0;
    this.#unprovenGeneration = reason === 'rejection' ? { generation: next.generation, at: this.#now() } : null;
    // Stored before any waiter resumes, so a worker stopped right after never restores the spent token.
    if (outcome.kind === 'refreshed') await this.#persist(next);
    emit({ type: 'refresh', phase: 'succeeded', refreshId, durationMs: this.#now() - startedAt });
    if (process.env.NODE_ENV !== 'production') devLog(`refresh #${refreshId} ${outcome.kind} in ${this.#now() - startedAt} ms`);
    this.#emitState();
    return next;
  }

  async #refreshFailed(session: Session, refreshId: number, startedAt: number, failure: RefreshFailure, cause: unknown): Promise<Session | null> {
    const durationMs = this.#now() - startedAt;
    if (this.#session !== session) return this.#session;

    if (failure.kind === 'rejected') {
      const error = new GuardianError('refresh_rejected', `sw-token-guardian: the provider rejected the refresh token, so a new login is needed: ${describeProviderError(cause)}`);
      warn(`refresh #${refreshId} rejected, session ended`, cause);
      this.#options.emit({ type: 'refresh', phase: 'failed', refreshId, durationMs, error: toErrorInfo(error) });
      await this.signOut('login_required', error);
      return null;
    }

    // A timed-out request may still be processed by the provider, so the next round waits at
    // least as long as a request may take.
    this.#failedRounds++;
    const pauseMs = Math.max(cooldownMs(this.#failedRounds, this.#options.random), failure.retryAfterMs ?? 0, failure.kind === 'timeout' ? this.#waitLimitMs : 0);
    this.#retryNotBefore = this.#now() + pauseMs;
    const error = new GuardianError('refresh_failed', `sw-token-guardian: the refresh failed and will be tried again in ${Math.round(pauseMs / 1000)} s; the session is kept: ${describeProviderError(cause)}`);
    warn(`refresh #${refreshId} failed (${failure.kind}), session kept, next try in ${pauseMs} ms`, cause);
    this.#error = toErrorInfo(error);
    this.#options.emit({ type: 'refresh', phase: 'failed', refreshId, durationMs, error: toErrorInfo(error) });
    this.#emitState();
    return session;
  }

  #discard(tokens: TokenSet): void {
    if (tokens.refreshToken === undefined) return;
    // The rotated refresh token belongs to no session any more; revoke it so it cannot linger.
    this.#options.refresher.revoke(tokens.refreshToken, 'refresh_token').catch((error: unknown) => {
      warn('revoking a refresh token that arrived after logout failed', error);
    });
  }
}
