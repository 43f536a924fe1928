/** A configured resource: credentials go to this exact origin under this path prefix. */
export interface ResourceMatcher {
  /** Scheme, host and port as `URL.origin` serializes them (default ports omitted). */
  origin: string;
  /** Path prefix without a trailing slash, or `''` for the whole origin. */
  pathPrefix: string;
  /** The configured value, for messages. */
  source: string;
}

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

export function isLoopbackHost(hostname: string): boolean {
  return loopbackHosts.has(hostname) || hostname.endsWith('.localhost');
}

/**
 * Parses one `resources` entry. Throws a plain `Error` naming the value and the fix; the
 * configuration check wraps it into an `invalid_config` error.
 */
export function parseResource(value: unknown): ResourceMatcher {
  if (typeof value !== 'string') {
    throw new Error(`resource ${JSON.stringify(value)} is not a string: give an absolute URL such as "https://api.example.com/v1"`);
  }

  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`resource "${value}" is not an absolute URL: give one such as "https://api.example.com/v1"`);
  }

  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new Error(`resource "${value}" must use https (plain http is accepted only for localhost, 127.0.0.1 and [::1])`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new Error(`resource "${value}" contains user credentials: remove them from the URL`);
  }
  if (url.search !== '' || url.hash !== '' || value.includes('?') || value.includes('#')) {
    throw new Error(`resource "${value}" has a query or fragment: give only the origin and a path prefix`);
  }

  const pathPrefix = url.pathname.replace(/\/+$/, '');
  return { origin: url.origin, pathPrefix, source: value };
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

export function findResource(url: URL, resources: readonly ResourceMatcher[]): ResourceMatcher | undefined {
  return resources.find((resource) => matchesResource(url, resource));
}
