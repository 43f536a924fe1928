import { GuardianError } from './errors.ts';
import { isLoopbackHost, parseResource, type ResourceConfig, type ResourceMatcher, type TokenTarget } from './resources.ts';

/** Configuration of `installTokenGuardian`. */
export interface GuardianConfig {
  /** Issuer identifier of the OpenID Provider; discovery reads `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  /** Client ID of a public client (no secret) registered for the authorization code flow with PKCE. */
  clientId: string;
  /** Absolute redirect URI registered at the provider; it must lie inside the worker's scope. */
  redirectUri: string;
  /** Space-separated scopes. Default `openid offline_access`; `openid` is required. */
  scope?: string;
  /**
   * The URLs whose requests get credentials: each entry an origin plus a path prefix, such as
   * `https://api.example.com/v1`, or an object that also names the resource's own token
   * (`resource`, `audience`, `scope`). Entries with the same token parameters share one token.
   * The first entry's token comes with the login. The others come from the refresh token on
   * first use.
   */
  resources: Array<string | ResourceConfig>;
  /** Seconds before expiry at which a refresh starts, capped at half the token lifetime. Default 30. */
  refreshLeewaySeconds?: number;
  /** Absolute URL the provider returns to after logout; must be registered at the provider. */
  postLogoutRedirectUri?: string;
  /**
   * Allows plain-http requests to an issuer on localhost, 127.0.0.1 or [::1], for local
   * development only. Any other host is rejected at install. Default false.
   */
  allowInsecureRequests?: boolean;
  /** Sends a `request` event for every request to a resource. Default false. */
  requestEvents?: boolean;
  /** Upper bound, in milliseconds, on each request to the provider. Default 10000. */
  providerTimeoutMs?: number;
  /**
   * DPoP (RFC 9449) sender-constrained tokens. `'auto'` (default) uses DPoP when discovery lists
   * ES256 in `dpop_signing_alg_values_supported`. `true` requires it, so the worker fails to
   * install against a provider without it. `false` uses bearer tokens.
   */
  dpop?: 'auto' | boolean;
  /**
   * Storage of the session. `'auto'` (default) persists DPoP-bound sessions in IndexedDB and
   * keeps bearer sessions in memory. `'memory'` never persists. `'indexeddb'` also persists
   * bearer tokens, which a script in the page could then decrypt and use elsewhere.
   */
  persistence?: 'auto' | 'memory' | 'indexeddb';

  /**
   * The code that responds to requests to resources. `'listener'` (default): the guardian's own
   * fetch listener. `'router'`: only the `handler` that `installTokenGuardian` returns, called by
   * the app's router, such as a Workbox route. The listener consumes the login callback and
   * guards the token endpoint either way.
   */
  resourceRouting?: 'listener' | 'router';
}

export type DpopSetting = 'auto' | boolean;
export type PersistenceSetting = 'auto' | 'memory' | 'indexeddb';
export type ResourceRouting = 'listener' | 'router';

export interface ResolvedConfig {
  issuer: URL;
  clientId: string;
  redirectUri: URL;
  /** The configured scope. The authorization request contains it plus every resource's scope. */
  scope: string;
  authorizationScope: string;
  resources: ResourceMatcher[];
  /** Distinct tokens, the first entry's first: it is the one the code exchange returns. */
  tokenTargets: TokenTarget[];
  refreshLeewaySeconds: number;
  postLogoutRedirectUri: URL | null;
  allowInsecureRequests: boolean;
  requestEvents: boolean;
  providerTimeoutMs: number;
  dpop: DpopSetting;
  persistence: PersistenceSetting;
  resourceRouting: ResourceRouting;
}

function invalid(field: string, message: string): GuardianError {
  return new GuardianError('invalid_config', `sw-token-guardian: invalid config.${field}: ${message}`);
}

function parseAbsoluteUrl(field: string, value: unknown, example: string): URL {
  if (typeof value !== 'string' || value === '') {
    throw invalid(field, `expected an absolute URL such as "${example}", got ${JSON.stringify(value)}`);
  }
  try {
    return new URL(value);
  } catch {
    throw invalid(field, `"${value}" is not an absolute URL; give one such as "${example}"`);
  }
}

function checkIssuer(config: GuardianConfig, allowInsecureRequests: boolean): URL {
  const issuer = parseAbsoluteUrl('issuer', config.issuer, 'https://login.example.com');
  if (issuer.search !== '' || issuer.hash !== '') {
    throw invalid('issuer', `"${config.issuer}" has a query or fragment; an issuer identifier has neither`);
  }
  if (issuer.protocol === 'https:') return issuer;
  if (issuer.protocol !== 'http:') {
    throw invalid('issuer', `"${config.issuer}" must use https`);
  }
  if (!isLoopbackHost(issuer.hostname)) {
    throw invalid('issuer', `"${config.issuer}" uses plain http on a host that is not loopback; use https (allowInsecureRequests covers only localhost, *.localhost, 127.0.0.1 and [::1])`);
  }
  if (!allowInsecureRequests) {
    throw invalid('issuer', `"${config.issuer}" uses plain http; use https, or set allowInsecureRequests: true for local development`);
  }
  return issuer;
}

function checkScope(value: unknown): string {
  if (value === undefined) return 'openid offline_access';
  if (typeof value !== 'string') {
    throw invalid('scope', `expected a space-separated string such as "openid offline_access", got ${JSON.stringify(value)}`);
  }
  const scopes = value.split(' ').filter((scope) => scope !== '');
  if (!scopes.includes('openid')) {
    throw invalid('scope', `"${value}" lacks "openid"; the guardian validates an ID token at login, so add "openid"`);
  }
  return scopes.join(' ');
}

function checkLeeway(value: unknown): number {
  if (value === undefined) return 30;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid('refreshLeewaySeconds', `expected a number of seconds >= 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkTimeout(value: unknown): number {
  if (value === undefined) return 10_000;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 100 || value > 120_000) {
    throw invalid('providerTimeoutMs', `expected whole milliseconds from 100 to 120000, got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkDpop(value: unknown): DpopSetting {
  if (value === undefined) return 'auto';
  if (value === 'auto' || value === true || value === false) return value;
  throw invalid('dpop', `expected 'auto', true or false, got ${JSON.stringify(value)}`);
}

function checkPersistence(value: unknown): PersistenceSetting {
  if (value === undefined) return 'auto';
  if (value === 'auto' || value === 'memory' || value === 'indexeddb') return value;
  throw invalid('persistence', `expected 'auto', 'memory' or 'indexeddb', got ${JSON.stringify(value)}`);
}

function checkResourceRouting(value: unknown): ResourceRouting {
  if (value === undefined) return 'listener';
  if (value === 'listener' || value === 'router') return value;
  throw invalid('resourceRouting', `expected 'listener', or 'router' when the app's router sends resource requests to guardian.handler, got ${JSON.stringify(value)}`);
}

function checkResources(value: unknown): ResourceMatcher[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalid('resources', `expected a non-empty array of URLs such as ["https://api.example.com/v1"], got ${JSON.stringify(value)}`);
  }
  const seen = new Map<string, number>();
  return value.map((entry, index) => {
    let resource: ResourceMatcher;
    try {
      resource = parseResource(entry);
    } catch (error) {
      throw invalid(`resources[${index}]`, (error as Error).message);
    }
    const place = `${resource.origin}${resource.pathPrefix}`;
    const earlier = seen.get(place);
    if (earlier !== undefined) {
      throw invalid(`resources[${index}]`, `"${resource.source}" covers the same URLs as resources[${earlier}]; merge the two entries, because one URL can carry only one token`);
    }
    seen.set(place, index);
    return resource;
  });
}

function distinctTargets(resources: ResourceMatcher[]): TokenTarget[] {
  const targets = new Map<string, TokenTarget>();
  for (const resource of resources) if (!targets.has(resource.target.key)) targets.set(resource.target.key, resource.target);
  return [...targets.values()];
}

function unionOfScopes(scope: string, targets: TokenTarget[]): string {
  const scopes = new Set(scope.split(' '));
  for (const target of targets) for (const extra of target.scope?.split(' ') ?? []) scopes.add(extra);
  return [...scopes].join(' ');
}

function checkBoolean(field: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') {
    throw invalid(field, `expected true or false, got ${JSON.stringify(value)}`);
  }
  return value;
}

const configFields: ReadonlyArray<keyof GuardianConfig> = [
  'issuer',
  'clientId',
  'redirectUri',
  'scope',
  'resources',
  'refreshLeewaySeconds',
  'postLogoutRedirectUri',
  'allowInsecureRequests',
  'requestEvents',
  'providerTimeoutMs',
  'dpop',
  'persistence',
  'resourceRouting',
];

/** Levenshtein distance, for suggesting the field a misspelled one meant. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Rejects a field the guardian does not read, which is usually a misspelled one that would be silently ignored. */
function checkKnownFields(config: object): void {
  for (const field of Object.keys(config)) {
    if ((configFields as readonly string[]).includes(field)) continue;
    const lower = field.toLowerCase();
    const closest = configFields
      .map((known) => ({ known, distance: known.toLowerCase().startsWith(lower) || lower.startsWith(known.toLowerCase()) ? 1 : editDistance(lower, known.toLowerCase()) }))
      .sort((x, y) => x.distance - y.distance)[0]!;
    const hint = closest.distance <= 2 ? `; did you mean "${closest.known}"?` : '.';
    throw invalid(field, `unknown field, so it would be ignored${hint} The fields are ${configFields.join(', ')}.`);
  }
}

/**
 * Checks the configuration against the worker's scope and returns it normalized.
 * Throws `GuardianError` with code `invalid_config` naming the field and the fix.
 */
export function resolveConfig(config: GuardianConfig, workerScope: string): ResolvedConfig {
  if (typeof config !== 'object' || config === null) {
    throw new GuardianError('invalid_config', 'sw-token-guardian: installTokenGuardian(config) expects a configuration object');
  }
  checkKnownFields(config);

  const allowInsecureRequests = checkBoolean('allowInsecureRequests', config.allowInsecureRequests);
  const issuer = checkIssuer(config, allowInsecureRequests);

  if (typeof config.clientId !== 'string' || config.clientId.trim() === '') {
    throw invalid('clientId', `expected the client ID registered at the provider, got ${JSON.stringify(config.clientId)}`);
  }

  const redirectUri = parseAbsoluteUrl('redirectUri', config.redirectUri, `${workerScope}callback`);
  if (!redirectUri.href.startsWith(workerScope) || redirectUri.hash !== '') {
    throw invalid('redirectUri', `"${config.redirectUri}" is outside the worker's scope "${workerScope}", so the worker would never see the callback; use a URL under that scope`);
  }

  const postLogoutRedirectUri =
    config.postLogoutRedirectUri === undefined
      ? null
      : parseAbsoluteUrl('postLogoutRedirectUri', config.postLogoutRedirectUri, `${workerScope}`);

  const scope = checkScope(config.scope);
  const resources = checkResources(config.resources);
  const tokenTargets = distinctTargets(resources);
  return {
    issuer,
    clientId: config.clientId,
    redirectUri,
    scope,
    authorizationScope: unionOfScopes(scope, tokenTargets),
    resources,
    tokenTargets,
    refreshLeewaySeconds: checkLeeway(config.refreshLeewaySeconds),
    postLogoutRedirectUri,
    allowInsecureRequests,
    requestEvents: checkBoolean('requestEvents', config.requestEvents),
    providerTimeoutMs: checkTimeout(config.providerTimeoutMs),
    dpop: checkDpop(config.dpop),
    persistence: checkPersistence(config.persistence),
    resourceRouting: checkResourceRouting(config.resourceRouting),
  };
}
