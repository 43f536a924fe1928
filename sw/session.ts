// The signed-in session: tokens in worker memory, the auth state pages see, and the
// single-flight refresh shared by every request from every tab.
import { GuardianError, toErrorInfo, type ErrorInfo } from './errors.ts';
import type { AuthState, AuthStatus, GuardianEvent, UserClaims } from './protocol.ts';
import { warn } from './log.ts';
import { describeProviderError, isGrantRejection, type LoginTokens, type TokenSet } from './provider.ts';

export interface Session {
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  readonly idToken: string | undefined;
  readonly expiresAt: number | null;
  readonly lifetimeMs: number | null;
  readonly user: UserClaims;
  /** Counter that increases with every new session and every refresh, so a request can see that its token was replaced. */
  readonly generation: number;
}

/** Provider operations the session uses, implemented by `ProviderClient`. */
export interface TokenRefresher {
  refresh(refreshToken: string): Promise<TokenSet>;
  revoke(token: string, tokenTypeHint: 'refresh_token' | 'access_token'): Promise<boolean>;
}

export interface SessionOptions {
  refresher: TokenRefresher;
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

  constructor(options: SessionOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get current(): Session | null {
    return this.#session;
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

  /** Replaces any session with a new login's tokens. */
  signIn(tokens: LoginTokens): void {
    this.#session = { ...tokens, generation: ++this.#generation };
    this.#status = 'authenticated';
    this.#error = null;
    this.#retryNotBefore = 0;
    this.#emitState();
  }

  /**
   * Forgets the session, so a refresh still in flight is discarded when it lands.
   * Returns the session that was dropped.
   */
  signOut(status: AuthStatus = 'unauthenticated', error: GuardianError | null = null): Session | null {
    const dropped = this.#session;
    this.#session = null;
    this.#status = status;
    this.#error = error === null ? null : toErrorInfo(error);
    this.#generation++;
    this.#emitState();
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
      this.signOut('login_required', error);
      return null;
    }

    let tokens: TokenSet;
    try {
      tokens = await this.#options.refresher.refresh(session.refreshToken);
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
    emit({ type: 'refresh', phase: 'succeeded', refreshId, durationMs: this.#now() - startedAt });
    this.#emitState();
    return next;
  }

  #refreshFailed(session: Session, refreshId: number, startedAt: number, cause: unknown): Session | null {
    const durationMs = this.#now() - startedAt;
    if (this.#session !== session) return this.#session;

    if (isGrantRejection(cause)) {
      const error = new GuardianError('refresh_rejected', `sw-token-guardian: the provider rejected the refresh token, so a new login is needed: ${describeProviderError(cause)}`);
      warn(`refresh #${refreshId} rejected, session ended`, cause);
      this.#options.emit({ type: 'refresh', phase: 'failed', refreshId, durationMs, error: toErrorInfo(error) });
      this.signOut('login_required', error);
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
