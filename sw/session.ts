// The signed-in session: tokens in worker memory (and, by configuration, in IndexedDB), the
// auth state pages see, and the single-flight refresh shared by every request from every tab.
import { GuardianError, toErrorInfo, type ErrorInfo } from './errors.ts';
import { warn } from './log.ts';
import type { AuthState, AuthStatus, GuardianEvent } from './protocol.ts';
import { describeProviderError, isGrantRejection, type LoginTokens, type TokenSet } from './provider.ts';
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
  save(data: SessionData, keyPair: CryptoKeyPair | undefined): Promise<void>;
  load(): Promise<LoadedSession>;
  clear(): Promise<void>;
}

export interface SessionOptions {
  refresher: TokenRefresher;
  /** Where sessions outlive the worker; without it they live in memory only. */
  persistence?: SessionPersistence;
  refreshLeewaySeconds: number;
  emit: (event: GuardianEvent) => void;
  /** Pause after a transient refresh failure before another refresh may start, in ms. */
  retryDelayMs?: number;
  now?: () => number;
}

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
   * Returns the session whose token a request should carry. An expired token waits for the
   * shared refresh. A token within the leeway is still used while a refresh runs in the
   * background, and that refresh is passed to `background` so the caller can keep the worker alive.
   */
  async sessionForRequest(background: (refresh: Promise<unknown>) => void): Promise<Session | null> {
    const session = this.#session;
    if (session === null || session.expiresAt === null) return session;

    const remainingMs = session.expiresAt - this.#now();
    if (remainingMs <= 0) return this.refreshAfter(session.generation);

    if (remainingMs <= this.#leewayMs(session)) background(this.refreshAfter(session.generation));
    return session;
  }

  #leewayMs(session: Session): number {
    const leewayMs = this.#options.refreshLeewaySeconds * 1000;
    // A leeway longer than the token's life would refresh on every request.
    return session.lifetimeMs === null ? leewayMs : Math.min(leewayMs, session.lifetimeMs / 2);
  }

  /**
   * Returns a session newer than `seenGeneration`, refreshing once if none exists yet. Every
   * caller that saw the same generation shares one refresh. Resolves to the unchanged session
   * when the refresh failed for a transient reason, and to null when the session ended.
   */
  refreshAfter(seenGeneration: number): Promise<Session | null> {
    const session = this.#session;
    if (session === null || session.generation !== seenGeneration) return Promise.resolve(session);
    if (this.#refreshing !== null) return this.#refreshing;
    if (this.#now() < this.#retryNotBefore) return Promise.resolve(session);

    const attempt = this.#refresh(session).finally(() => {
      if (this.#refreshing === attempt) this.#refreshing = null;
    });
    this.#refreshing = attempt;
    return attempt;
  }

  async #refresh(session: Session): Promise<Session | null> {
    const refreshId = ++this.#refreshCount;
    const startedAt = this.#now();
    const emit = this.#options.emit;
    emit({ type: 'refresh', phase: 'started', refreshId });

    if (session.refreshToken === undefined) {
      const error = new GuardianError('refresh_rejected', 'sw-token-guardian: the access token expired and the provider issued no refresh token; include "offline_access" in the scope, or log in again');
      emit({ type: 'refresh', phase: 'failed', refreshId, durationMs: 0, error: toErrorInfo(error) });
      await this.signOut('login_required', error);
      return null;
    }

    let tokens: TokenSet;
    try {
      tokens = await this.#options.refresher.refresh(session.refreshToken, session.keyPair);
    } catch (cause) {
      return this.#refreshFailed(session, refreshId, startedAt, cause);
    }

    if (this.#session !== session) {
      // A logout or a new login replaced the session while the request was in flight.
      this.#discard(tokens);
      return this.#session;
    }

    const next: Session = {
      ...session,
      accessToken: tokens.accessToken,
      // Rotation: the new refresh token replaces the spent one before any waiter resumes.
      refreshToken: tokens.refreshToken ?? session.refreshToken,
      idToken: tokens.idToken ?? session.idToken,
      expiresAt: tokens.expiresAt,
      lifetimeMs: tokens.lifetimeMs,
      generation: ++this.#generation,
    };
    this.#session = next;
    this.#status = 'authenticated';
    this.#error = null;
    // Stored before any waiter resumes, so a worker stopped right after never restores the spent token.
    await this.#persist(next);
    emit({ type: 'refresh', phase: 'succeeded', refreshId, durationMs: this.#now() - startedAt });
    this.#emitState();
    return next;
  }

  async #refreshFailed(session: Session, refreshId: number, startedAt: number, cause: unknown): Promise<Session | null> {
    const durationMs = this.#now() - startedAt;
    if (this.#session !== session) return this.#session;

    if (isGrantRejection(cause)) {
      const error = new GuardianError('refresh_rejected', `sw-token-guardian: the provider rejected the refresh token, so a new login is needed: ${describeProviderError(cause)}`);
      warn(`refresh #${refreshId} rejected, session ended`, cause);
      this.#options.emit({ type: 'refresh', phase: 'failed', refreshId, durationMs, error: toErrorInfo(error) });
      await this.signOut('login_required', error);
      return null;
    }

    const error = new GuardianError('refresh_failed', `sw-token-guardian: the refresh failed and will be tried again; the session is kept: ${describeProviderError(cause)}`);
    this.#retryNotBefore = this.#now() + (this.#options.retryDelayMs ?? 5000);
    warn(`refresh #${refreshId} failed, session kept`, cause);
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
