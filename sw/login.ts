// The authorization code flow with PKCE: starting a login, and consuming the redirect back.
import * as oauth from 'oauth4webapi';
import type { ResolvedConfig } from './config.ts';
import { GuardianError } from './errors.ts';
import { warn } from './log.ts';
import { generateDpopKeyPair, type ProviderClient } from './provider.ts';
import type { SessionManager } from './session.ts';
import { transactionLifetimeMs, type TransactionStore } from './transactions.ts';

/**
 * Reduces `returnTo` to a path on the worker's origin. Absolute URLs to other origins,
 * protocol-relative `//host` forms and anything unparsable become `/`.
 */
export function safeReturnPath(returnTo: unknown, origin: string): string {
  if (typeof returnTo !== 'string' || !returnTo.startsWith('/') || returnTo.startsWith('//') || returnTo.startsWith('/\\')) {
    return '/';
  }
  let url: URL;
  try {
    url = new URL(returnTo, origin);
  } catch {
    return '/';
  }
  if (url.origin !== origin) return '/';
  return url.pathname + url.search + url.hash;
}

export class LoginFlow {
  readonly #config: ResolvedConfig;
  readonly #provider: ProviderClient;
  readonly #transactions: TransactionStore;
  readonly #sessions: SessionManager;

  constructor(config: ResolvedConfig, provider: ProviderClient, transactions: TransactionStore, sessions: SessionManager) {
    this.#config = config;
    this.#provider = provider;
    this.#transactions = transactions;
    this.#sessions = sessions;
  }

  /** Creates and stores a login transaction and returns the URL to send the browser to. */
  async begin(returnTo: unknown): Promise<URL> {
    const transaction = {
      state: oauth.generateRandomState(),
      nonce: oauth.generateRandomNonce(),
      codeVerifier: oauth.generateRandomCodeVerifier(),
      returnTo: safeReturnPath(returnTo, this.#config.redirectUri.origin),
      expiresAt: Date.now() + transactionLifetimeMs,
    };
    // Each login gets its own key pair, which becomes the session's key when the login succeeds.
    const keyPair = (await this.#provider.usesDpop()) ? await generateDpopKeyPair() : undefined;
    const url = await this.#provider.authorizationUrl(transaction, keyPair);
    await this.#transactions.save(transaction, keyPair);
    return url;
  }

  /** True for a navigation to the redirect URI, whatever its query. */
  isCallback(url: URL): boolean {
    const redirectUri = this.#config.redirectUri;
    return url.origin === redirectUri.origin && url.pathname === redirectUri.pathname;
  }

  /**
   * Consumes the provider's redirect. It checks state, exchanges the code, and responds with a
   * redirect to the transaction's return path, so the page never loads the URL with the code.
   * Any failure leaves the current session as it was and is reported in the auth state.
   */
  async handleCallback(url: URL): Promise<Response> {
    const state = url.searchParams.get('state');
    const stored = state === null || state === '' ? null : await this.#transactions.take(state);
    if (stored === null) {
      warn('login callback refused: missing, unknown, expired or already used state');
      this.#sessions.reportError(
        new GuardianError('invalid_state', 'sw-token-guardian: the login callback carried a missing, unknown, expired or already used state; start the login again'),
      );
      return this.#redirect('/');
    }

    const { transaction, keyPair } = stored;
    try {
      const parameters = await this.#provider.validateCallback(url, transaction.state);
      const tokens = await this.#provider.exchangeCode(parameters, transaction, keyPair);
      await this.#sessions.signIn(tokens, keyPair);
    } catch (error) {
      const guardianError =
        error instanceof GuardianError
          ? error
          : new GuardianError('code_exchange_failed', `sw-token-guardian: the login callback failed: ${String(error)}`);
      warn(`login callback failed with ${guardianError.code}`, guardianError);
      this.#sessions.reportError(guardianError);
    }
    return this.#redirect(transaction.returnTo);
  }

  #redirect(path: string): Response {
    return Response.redirect(new URL(path, this.#config.redirectUri.origin).href, 303);
  }
}
