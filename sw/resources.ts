/** A `resources` entry with its own access token: an RFC 8707 indicator, an audience or scopes. */
export interface ResourceConfig {
  /** Origin and path prefix whose requests get this resource's token, such as `https://api.example.com/v1`. */
  url: string;
  /** RFC 8707 resource indicator, sent as `resource` at authorization, code exchange and refresh. */
  resource?: string;
  /** Audience, sent as `audience` (as Auth0 names it) at authorization, code exchange and refresh. */
  audience?: string;
  /** Space-separated scopes of this resource's token, added to the login's scope and sent at refresh. */
  scope?: string;
}

/** The token request parameters the worker sends to the provider when it needs a token for one resource. */
export interface TokenTarget {
  /** Identifies the token: entries with the same parameters share one. */
  key: string;
  resource?: string;
  audience?: string;
  scope?: string;
}

/** A configured resource: credentials go to this exact origin under this path prefix. */
export interface ResourceMatcher {
  /** Scheme, host and port as `URL.origin` serializes them (default ports omitted). */
  origin: string;
  /** Path prefix without a trailing slash, or `''` for the whole origin. */
  pathPrefix: string;
  /** The configured URL, for messages. */
  source: string;
  /** The token this resource's requests carry. */
  target: TokenTarget;
}

/** The token of entries that name no indicator, audience or scope. */
export const defaultTokenTarget: TokenTarget = { key: 'default' };

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

export function isLoopbackHost(hostname: string): boolean {
  return loopbackHosts.has(hostname) || hostname.endsWith('.localhost');
}

function parseScope(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new Error(`${field} ${JSON.stringify(value)} is not a space-separated list of scopes such as "orders:read orders:write"`);
  }
  return [...new Set(value.split(' ').filter((scope) => scope !== ''))].join(' ');
}

function parseIndicator(value: unknown): string {
  let url: URL | null = null;
  try {
    url = typeof value === 'string' ? new URL(value) : null;
  } catch {
    url = null;
  }
  if (url === null || url.hash !== '' || (value as string).includes('#')) {
    throw new Error(`resource indicator ${JSON.stringify(value)} must be an absolute URI without a fragment (RFC 8707), such as "https://api.example.com/"`);
  }
  return value as string;
}

const entryFields = new Set(['url', 'resource', 'audience', 'scope']);

/** Reads the token parameters of an object entry; a plain URL entry uses the default token. */
function parseTarget(entry: Record<string, unknown>): TokenTarget {
  for (const field of Object.keys(entry)) {
    if (!entryFields.has(field)) {
      throw new Error(`resource entry has an unknown field "${field}": use url, resource, audience and scope`);
    }
  }
  if (entry.resource !== undefined && entry.audience !== undefined) {
    throw new Error('resource entry sets both resource and audience: give the one your provider reads (resource for RFC 8707, audience for Auth0)');
  }
  const target: Omit<TokenTarget, 'key'> = {};
  if (entry.resource !== undefined) target.resource = parseIndicator(entry.resource);
  if (entry.audience !== undefined) {
    if (typeof entry.audience !== 'string' || entry.audience.trim() === '') {
      throw new Error(`audience ${JSON.stringify(entry.audience)} is not a non-empty string such as "https://api.example.com/"`);
    }
    target.audience = entry.audience;
  }
  if (entry.scope !== undefined) target.scope = parseScope(entry.scope, 'scope');
  if (Object.keys(target).length === 0) return defaultTokenTarget;
  const sortedScope = target.scope?.split(' ').sort().join(' ') ?? '';
  return { key: JSON.stringify([target.resource ?? '', target.audience ?? '', sortedScope]), ...target };
}

/**
 * Parses one `resources` entry: a URL string, or an object with `url` and the parameters of its
 * own token. Throws a plain `Error` naming the value and the fix; the configuration check wraps
 * it into an `invalid_config` error.
 */
export function parseResource(value: unknown): ResourceMatcher {
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
  const urlValue = isObject ? (value as Record<string, unknown>).url : value;
  if (typeof urlValue !== 'string') {
    const got = isObject ? `url ${JSON.stringify(urlValue)}` : JSON.stringify(value);
    throw new Error(`resource ${got} is not a string: give an absolute URL such as "https://api.example.com/v1", or { url, resource?, audience?, scope? }`);
  }

  let url: URL;
  try {
    url = new URL(urlValue);
  } catch {
    throw new Error(`resource "${urlValue}" is not an absolute URL: give one such as "https://api.example.com/v1"`);
  }

  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new Error(`resource "${urlValue}" must use https (plain http is accepted only for localhost, *.localhost, 127.0.0.1 and [::1])`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new Error(`resource "${urlValue}" contains user credentials: remove them from the URL`);
  }
  if (url.search !== '' || url.hash !== '' || urlValue.includes('?') || urlValue.includes('#')) {
    throw new Error(`resource "${urlValue}" has a query or fragment: give only the origin and a path prefix`);
  }

  const pathPrefix = url.pathname.replace(/\/+$/, '');
  const target = isObject ? parseTarget(value as Record<string, unknown>) : defaultTokenTarget;
  return { origin: url.origin, pathPrefix, source: urlValue, target };
}

/**
 * Tells whether `url` belongs to the resource: same scheme, host and port, and a path that
 * equals the prefix or continues it after a `/`. `/api` matches `/api` and `/api/x` but not
 * `/apix`. The path is compared as the URL parser normalized it (dot segments resolved,
 * percent-encoding kept), so `/%61pi` does not match `/api`.
 */
export function matchesResource(url: URL, resource: ResourceMatcher): boolean {
  if (url.origin !== resource.origin) return false;
  if (resource.pathPrefix === '') return true;

  const path = url.pathname;
  if (!path.startsWith(resource.pathPrefix)) return false;
  return path.length === resource.pathPrefix.length || path[resource.pathPrefix.length] === '/';
}

/** Finds the resource `url` belongs to; where prefixes nest, the longest one wins. */
export function findResource(url: URL, resources: readonly ResourceMatcher[]): ResourceMatcher | undefined {
  let found: ResourceMatcher | undefined;
  for (const resource of resources) {
    if (!matchesResource(url, resource)) continue;
    if (found === undefined || resource.pathPrefix.length > found.pathPrefix.length) found = resource;
  }
  return found;
}
