// Sends a page's request to a configured resource with the access token attached, and
// retries it once after a 401 with a newer token.
import type { GuardianEvent, RequestOutcome } from './protocol.ts';
import type { Session, SessionManager } from './session.ts';

export interface ResourceFetchContext {
  sessions: SessionManager;
  /** Keeps the worker alive for work that outlives the response, such as a background refresh. */
  waitUntil: (promise: Promise<unknown>) => void;
  /** Called with request events when they are enabled, otherwise undefined. */
  emit: ((event: GuardianEvent) => void) | undefined;
}

let requestCount = 0;

/**
 * Copies everything the page set on `request`, with the body buffered by the caller so it can
 * be sent twice byte for byte, and `Authorization` replaced by the session's token.
 */
function authorizedRequest(request: Request, body: ArrayBuffer | null, session: Session | null): Request {
  const headers = new Headers(request.headers);
  if (session !== null) headers.set('Authorization', `Bearer ${session.accessToken}`);

  return new Request(request.url, {
    method: request.method,
    headers,
    body,
    // `no-cors` would silently drop the Authorization header; `cors` also covers same-origin URLs.
    mode: request.mode === 'no-cors' || request.mode === 'navigate' ? 'cors' : request.mode,
    credentials: request.credentials,
    cache: request.cache,
    redirect: request.redirect,
    referrer: request.referrer,
    referrerPolicy: request.referrerPolicy,
    integrity: request.integrity,
    keepalive: request.keepalive,
    signal: request.signal,
  });
}

async function bufferedBody(request: Request): Promise<ArrayBuffer | null> {
  if (request.method === 'GET' || request.method === 'HEAD') return null;
  return request.arrayBuffer();
}

/** Handles one intercepted request to a resource; settles with the resource's response or a fetch error. */
export async function fetchResource(request: Request, context: ResourceFetchContext): Promise<Response> {
  const requestId = ++requestCount;
  const path = new URL(request.url).pathname;
  const report = (outcome: RequestOutcome, status?: number) => {
    context.emit?.({ type: 'request', requestId, method: request.method, path, outcome, ...(status === undefined ? {} : { status }) });
  };

  const body = await bufferedBody(request);
  const session = await context.sessions.sessionForRequest(context.waitUntil);

  let response: Response;
  try {
    response = await fetch(authorizedRequest(request, body, session));
  } catch (error) {
    report('failed');
    throw error;
  }
  if (response.status !== 401 || session === null) {
    report(session === null ? 'unauthorized' : 'attached', response.status);
    return response;
  }

  // One refresh for every request rejected on the same token; a request whose token was
  // already replaced gets the newer one without another refresh.
  const renewed = await context.sessions.refreshAfter(session.generation);
  if (renewed === null || renewed.generation === session.generation) {
    report('unauthorized', response.status);
    return response;
  }

  await response.body?.cancel();
  try {
    const retried = await fetch(authorizedRequest(request, body, renewed));
    report('retried', retried.status);
    return retried;
  } catch (error) {
    report('failed');
    throw error;
  }
}
