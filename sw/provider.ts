// Every exchange with the OpenID Provider, through oauth4webapi. Nothing in this file keeps
// state beyond the discovered metadata.
import * as oauth from 'oauth4webapi';
import type { ResolvedConfig } from './config.ts';
import { GuardianError } from './errors.ts';
import type { UserClaims } from './protocol.ts';
import type { TokenTarget } from './resources.ts';

/** Tokens from one token endpoint response, with expiry by the worker's own clock. */
export interface TokenSet {
  accessToken: string;
  /** Absent when the provider did not issue or did not rotate one. */
  refreshToken: string | undefined;
  idToken: string | undefined;
  /** Epoch milliseconds: arrival time of the response plus `expires_in`, or null without `expires_in`. */
  expiresAt: number | null;
  /** `expires_in` in milliseconds, or null. */
  lifetimeMs: number | null;
}

export interface LoginTokens extends TokenSet {
  user: UserClaims;
}

export interface AuthorizationRequest {
  state: string;
  nonce: string;
  codeVerifier: string;
}

// Claims that describe the token rather than the user; they stay out of `AuthState.user`.
const protocolClaims = new Set(['iss', 'aud', 'exp', 'iat', 'nbf', 'jti', 'nonce', 'at_hash', 'c_hash', 's_hash', 'azp', 'sid', 'auth_time', 'acr', 'amr']);

function userClaimsOf(claims: oauth.IDToken): UserClaims {
  const user: UserClaims = { sub: claims.sub };
  for (const [name, value] of Object.entries(claims)) {
    if (!protocolClaims.has(name)) user[name] = value;
  }
  return user;
}

function tokenSetOf(response: oauth.TokenEndpointResponse, receivedAt: number): TokenSet {
  const lifetimeMs = typeof response.expires_in === 'number' ? response.expires_in * 1000 : null;
  return {
    accessToken: response.access_token,
    refreshToken: response.refresh_token,
    idToken: response.id_token,
    expiresAt: lifetimeMs === null ? null : receivedAt + lifetimeMs,
    lifetimeMs,
  };
}

/** True when the provider rejected the grant itself, as opposed to a transient failure. */
// `invalid_dpop_proof` after a nonce retry means the token is bound to another key, which no
// retry can fix.
const rejectionErrors = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client', 'invalid_dpop_proof']);

export function isGrantRejection(error: unknown): boolean {
  return error instanceof oauth.ResponseBodyError && rejectionErrors.has(error.error);
}

/** Describes an error from oauth4webapi or fetch without echoing any response body. */
export function describeProviderError(error: unknown): string {
  if (error instanceof oauth.ResponseBodyError) {
    return `the provider answered ${error.status} ${error.error}${error.error_description ? ` (${error.error_description})` : ''}`;
  }
  // oauth4webapi rejects a response that is not a token response, such as a 500 page, with the
  // response as the cause. Its body is not read here, so only the status is known.
  if (error instanceof oauth.OperationProcessingError && error.cause instanceof Response) {
    return `the provider answered HTTP ${error.cause.status}${error.cause.statusText ? ` ${error.cause.statusText}` : ''}, which is not a valid response (${error.message})`;
  }
  if (error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return 'the request to the provider timed out';
  }
  if (error instanceof TypeError) return `the provider could not be reached (${error.message})`;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Builds the `DPoP` request option, which is left out entirely for bearer tokens. */
export function dpopOption(dpop: oauth.DPoPHandle | undefined): { DPoP?: oauth.DPoPHandle } {
  return dpop === undefined ? {} : { DPoP: dpop };
}

/**
 * Builds the token endpoint parameters that select a resource's token. `scope` is sent only
 * with a refresh, because at the code exchange the provider decides from the authorization.
 */
function targetParameters(target: TokenTarget, grant: 'authorization_code' | 'refresh_token'): Record<string, string> {
  const parameters: Record<string, string> = {};
  if (target.resource !== undefined) parameters.resource = target.resource;
  if (target.audience !== undefined) parameters.audience = target.audience;
  if (target.scope !== undefined && grant === 'refresh_token') parameters.scope = target.scope;
  return parameters;
}

/** Creates the per-session DPoP key pair: ES256, private key not extractable. */
export function generateDpopKeyPair(): Promise<CryptoKeyPair> {
  return oauth.generateKeyPair('ES256', { extractable: false });
}

export class ProviderClient {
  readonly #config: ResolvedConfig;
  readonly #client: oauth.Client;
  readonly #clientAuth = oauth.None();
  #metadata: Promise<oauth.AuthorizationServer> | null = null;
  #knownMetadata: oauth.AuthorizationServer | null = null;
  // One handle per key pair, because each handle remembers the latest DPoP nonce per origin.
  readonly #dpopHandles = new WeakMap<CryptoKeyPair, oauth.DPoPHandle>();

  constructor(config: ResolvedConfig) {
    this.#config = config;
    this.#client = { client_id: config.clientId };
  }

  /** Metadata discovered earlier in this worker's life, without waiting. */
  get knownMetadata(): oauth.AuthorizationServer | null {
    return this.#knownMetadata;
  }

  #requestOptions() {
    return {
      signal: AbortSignal.timeout(this.#config.providerTimeoutMs),
      [oauth.allowInsecureRequests]: this.#config.allowInsecureRequests,
    };
  }

  /**
   * Resolves the provider's metadata, fetching it once per worker life. A failure is not
   * cached, so the next call tries again. Rejects with `discovery_failed`.
   */
  metadata(): Promise<oauth.AuthorizationServer> {
    if (this.#metadata !== null) return this.#metadata;

    const issuer = this.#config.issuer;
    const pending = (async () => {
      try {
        const response = await oauth.discoveryRequest(issuer, { ...this.#requestOptions(), algorithm: 'oidc' });
        const metadata = await oauth.processDiscoveryResponse(issuer, response);
        this.#knownMetadata = metadata;
        return metadata;
      } catch (error) {
        this.#metadata = null;
        throw new GuardianError('discovery_failed', `sw-token-guardian: discovery at ${issuer.href} failed: ${describeProviderError(error)}`, { cause: error });
      }
    })();
    this.#metadata = pending;
    return pending;
  }

  /** DPoP handle for a key pair, or undefined without one. */
  dpopHandle(keyPair: CryptoKeyPair | undefined): oauth.DPoPHandle | undefined {
    if (keyPair === undefined) return undefined;
    let handle = this.#dpopHandles.get(keyPair);
    if (handle === undefined) {
      handle = oauth.DPoP(this.#client, keyPair);
      this.#dpopHandles.set(keyPair, handle);
    }
    return handle;
  }

  /**
   * Tells whether new sessions use DPoP: always with `dpop: true`, never with `false`, and with
   * `'auto'` when discovery lists ES256 in `dpop_signing_alg_values_supported`.
   */
  async usesDpop(): Promise<boolean> {
    if (this.#config.dpop === false) return false;
    const supported = (await this.metadata()).dpop_signing_alg_values_supported?.includes('ES256') === true;
    if (this.#config.dpop === true && !supported) {
      throw new GuardianError(
        'invalid_config',
        `sw-token-guardian: invalid config.dpop: true, but the provider at ${this.#config.issuer.href} does not list ES256 in dpop_signing_alg_values_supported; enable DPoP at the provider or set dpop: 'auto'`,
      );
    }
    return supported;
  }

  // Retries once when the provider demands a fresh DPoP nonce. The handle has already stored
  // the nonce from the rejected response.
  async #withNonceRetry<T>(dpop: oauth.DPoPHandle | undefined, attempt: () => Promise<T>): Promise<T> {
    try {
      return await attempt();
    } catch (error) {
      if (dpop === undefined || !oauth.isDPoPNonceError(error)) throw error;
      return attempt();
    }
  }

  /** Builds the authorization URL for a new login with PKCE (S256), state, nonce and, with DPoP, `dpop_jkt`. */
  async authorizationUrl(request: AuthorizationRequest, keyPair: CryptoKeyPair | undefined): Promise<URL> {
    const metadata = await this.metadata();
    if (metadata.authorization_endpoint === undefined) {
      throw new GuardianError('discovery_failed', `sw-token-guardian: the provider at ${this.#config.issuer.href} lists no authorization_endpoint`);
    }

    const url = new URL(metadata.authorization_endpoint);
    url.searchParams.set('client_id', this.#config.clientId);
    url.searchParams.set('redirect_uri', this.#config.redirectUri.href);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('scope', this.#config.authorizationScope);
    // RFC 8707 lets one authorization name several resources, but an audience parameter names one.
    const targets = this.#config.tokenTargets;
    for (const resource of new Set(targets.flatMap((target) => (target.resource === undefined ? [] : [target.resource])))) {
      url.searchParams.append('resource', resource);
    }
    const audience = targets.find((target) => target.audience !== undefined)?.audience;
    if (audience !== undefined) url.searchParams.set('audience', audience);
    url.searchParams.set('state', request.state);
    url.searchParams.set('nonce', request.nonce);
    url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(request.codeVerifier));
    url.searchParams.set('code_challenge_method', 'S256');
    const dpop = this.dpopHandle(keyPair);
    if (dpop !== undefined) url.searchParams.set('dpop_jkt', await dpop.calculateThumbprint());
    return url;
  }

  /**
   * Checks the callback URL against the expected state and returns its parameters. Throws
   * `authorization_error` for an OAuth error response and `invalid_state` for a state mismatch.
   */
  async validateCallback(callbackUrl: URL, expectedState: string): Promise<URLSearchParams> {
    const metadata = await this.metadata();
    try {
      return oauth.validateAuthResponse(metadata, this.#client, callbackUrl, expectedState);
    } catch (error) {
      if (error instanceof oauth.AuthorizationResponseError) {
        const description = error.error_description ? `: ${error.error_description}` : '';
        throw new GuardianError('authorization_error', `sw-token-guardian: the provider returned ${error.error}${description}`, { cause: error });
      }
      throw new GuardianError('invalid_state', `sw-token-guardian: the callback did not validate: ${describeProviderError(error)}`, { cause: error });
    }
  }

  /**
   * Exchanges an authorization code for the first configured resource's token and validates the
   * ID token, nonce included.
   */
  async exchangeCode(callbackParameters: URLSearchParams, request: AuthorizationRequest, keyPair: CryptoKeyPair | undefined): Promise<LoginTokens> {
    const target = this.#config.tokenTargets[0]!;
    const metadata = await this.metadata();
    const dpop = this.dpopHandle(keyPair);
    try {
      return await this.#withNonceRetry(dpop, async () => {
        const response = await oauth.authorizationCodeGrantRequest(
          metadata,
          this.#client,
          this.#clientAuth,
          callbackParameters,
          this.#config.redirectUri.href,
          request.codeVerifier,
          { ...this.#requestOptions(), ...dpopOption(dpop), additionalParameters: targetParameters(target, 'authorization_code') },
        );
        const receivedAt = Date.now();
        const result = await oauth.processAuthorizationCodeResponse(metadata, this.#client, response, {
          expectedNonce: request.nonce,
          requireIdToken: true,
        });
        const claims = oauth.getValidatedIdTokenClaims(result);
        if (claims === undefined) throw new Error('the token response carried no ID token');
        return { ...tokenSetOf(result, receivedAt), user: userClaimsOf(claims) };
      });
    } catch (error) {
      throw new GuardianError('code_exchange_failed', `sw-token-guardian: the code exchange failed: ${describeProviderError(error)}`, { cause: error });
    }
  }

  /**
   * Redeems a refresh token for `target`'s token. Rejects with the raw oauth4webapi or fetch
   * error, so the caller can tell a rejected grant (`isGrantRejection`) from a transient failure.
   */
  async refresh(refreshToken: string, keyPair: CryptoKeyPair | undefined, target: TokenTarget): Promise<TokenSet> {
    const metadata = await this.metadata();
    const dpop = this.dpopHandle(keyPair);
    return this.#withNonceRetry(dpop, async () => {
      const options = { ...this.#requestOptions(), ...dpopOption(dpop), additionalParameters: targetParameters(target, 'refresh_token') };
      const response = await oauth.refreshTokenGrantRequest(metadata, this.#client, this.#clientAuth, refreshToken, options);
      const receivedAt = Date.now();
      const result = await oauth.processRefreshTokenResponse(metadata, this.#client, response);
      return tokenSetOf(result, receivedAt);
    });
  }

  /** Revokes a token when the provider has a revocation endpoint; returns false when it has none. */
  // NOTE: oauth4webapi 3.8 sends revocation requests without a DPoP proof. Providers revoke a
  // public client's DPoP-bound refresh token without one (checked with oidc-provider 8).
  async revoke(token: string, tokenTypeHint: 'refresh_token' | 'access_token'): Promise<boolean> {
    const metadata = await this.metadata();
    if (metadata.revocation_endpoint === undefined) return false;

    const response = await oauth.revocationRequest(metadata, this.#client, this.#clientAuth, token, {
      ...this.#requestOptions(),
      additionalParameters: { token_type_hint: tokenTypeHint },
    });
    await oauth.processRevocationResponse(response);
    return true;
  }

  /**
   * Builds the RP-initiated logout URL, or returns null when the provider has no
   * `end_session_endpoint`. The URL carries the ID token, so it must only ever be given to
   * `WindowClient.navigate`, never to a page.
   */
  async endSessionUrl(idToken: string | undefined): Promise<URL | null> {
    const metadata = await this.metadata();
    if (metadata.end_session_endpoint === undefined) return null;

    const url = new URL(metadata.end_session_endpoint);
    url.searchParams.set('client_id', this.#config.clientId);
    if (idToken !== undefined) url.searchParams.set('id_token_hint', idToken);
    if (this.#config.postLogoutRedirectUri !== null) {
      url.searchParams.set('post_logout_redirect_uri', this.#config.postLogoutRedirectUri.href);
    }
    return url;
  }
}
