// Sends a page's request to a configured resource with the session's credentials: a bearer
// token, or a DPoP-bound token with a fresh proof per request. Retries once after a 401 with a
// newer token, and once after a DPoP nonce challenge.
import * as oauth from 'oauth4webapi';
import { devLog } from './dev-log.ts';
import { GuardianError, toErrorInfo } from './errors.ts';
import type { GuardianEvent, RequestOutcome } from './protocol.ts';
import { dpopOption, type ProviderClient } from './provider.ts';
import type { TokenTarget } from './resources.ts';
import type { Credential, SessionManager } from './session.ts';

export interface ResourceFetchContext {
  sessions: SessionManager;
  /** The token this resource's requests carry. */
  target: TokenTarget;
  provider: ProviderClient;
  /** Keeps the worker alive for work that outlives the response, such as a background refresh. */
  waitUntil: (promise: Promise<unknown>) => void;
  /** Called with request events when they are enabled, otherwise undefined. */
  emit: ((event: GuardianEvent) => void) | undefined;
  /** ID of the tab that made the request, for request events; `''` when unknown. */
  clientId?: string;
  /** Largest body kept in memory so it can be sent again; larger ones are streamed once. Default 16 MiB. */
  maxReplayableBodyBytes?: number;
}

/** A body the worker can send again byte for byte, or a stream it can send only once. */
type OutgoingBody = { replayable: true; bytes: ArrayBuffer | null } | { replayable: false; stream: ReadableStream<Uint8Array> };

const defaultMaxReplayableBodyBytes = 16 * 1024 * 1024;

interface Attempt {
  response: Response;
  /** The resource asked for a (new) DPoP nonce. */
  nonceChallenge: boolean;
}

let requestCount = 0;

/**
 * Copies everything the page set on `request`, with the body buffered by the caller so it can
 * be sent again byte for byte, and with `credentials` replacing any Authorization or DPoP header.
 */
function outgoingRequest(request: Request, body: OutgoingBody, credentials: Headers | null): Request {
  const headers = new Headers(request.headers);
  headers.delete('authorization');
  headers.delete('dpop');
  credentials?.forEach((value, name) => headers.set(name, value));

  // A stream body needs `duplex: 'half'`; TypeScript's DOM types do not list that member yet.
  const streamOptions = body.replayable ? {} : ({ duplex: 'half' } as RequestInit);
  return new Request(request.url, {
    ...streamOptions,
    method: request.method,
    headers,
    body: body.replayable ? body.bytes : body.stream,
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

function concatenate(chunks: Uint8Array[], size: number): ArrayBuffer {
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes.buffer;
}

/** Continues a partly read body: the chunks read so far, then the rest from `reader`. */
function resumedStream(chunks: Uint8Array[], reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/**
 * Reads the page's body into memory so it can be sent again after a 401. A body larger than
 * `maxBytes`, such as a long upload stream, is passed on as a stream instead, and sent once.
 */
async function readBody(request: Request, maxBytes: number): Promise<OutgoingBody> {
  if (request.method === 'GET' || request.method === 'HEAD' || request.body === null) return { replayable: true, bytes: null };

  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { replayable: true, bytes: concatenate(chunks, size) };
    chunks.push(value);
    size += value.byteLength;
    if (size > maxBytes) return { replayable: false, stream: resumedStream(chunks, reader) };
  }
}

/** Sends one attempt. oauth4webapi builds the Authorization and DPoP headers; the request itself is the page's. */
async function send(request: Request, url: URL, body: OutgoingBody, credential: Credential | null, provider: ProviderClient): Promise<Attempt> {
  if (credential === null) return { response: await fetch(outgoingRequest(request, body, null)), nonceChallenge: false };
  if (credential.keyPair === undefined) {
    // A bearer token is one header, so it is set directly rather than through oauth4webapi's
    // per-request option and header conversions.
    const credentials = new Headers({ authorization: `Bearer ${credential.accessToken}` });
    return { response: await fetch(outgoingRequest(request, body, credentials)), nonceChallenge: false };
  }

  try {
    const response = await oauth.protectedResourceRequest(credential.accessToken, request.method, url, new Headers(), null, {
      ...dpopOption(provider.dpopHandle(credential.keyPair)),
      // Resources on plain http are limited to loopback hosts by the configuration check.
      [oauth.allowInsecureRequests]: url.protocol === 'http:',
      [oauth.customFetch]: (_url, options) => fetch(outgoingRequest(request, body, new Headers(options.headers))),
    });
    return { response, nonceChallenge: false };
  } catch (error) {
    // oauth4webapi rejects any response with a WWW-Authenticate challenge; its body is still unread.
    if (!(error instanceof oauth.WWWAuthenticateChallengeError)) throw error;
    return { response: error.response, nonceChallenge: oauth.isDPoPNonceError(error) };
  }
}

/** Sends with `credential`, and once more when the resource demands a DPoP nonce. */
async function sendWithNonceRetry(request: Request, url: URL, body: OutgoingBody, credential: Credential | null, provider: ProviderClient): Promise<Attempt> {
  const first = await send(request, url, body, credential, provider);
  if (!first.nonceChallenge || !body.replayable) return first;
  await first.response.body?.cancel();
  // The DPoP handle stored the nonce from the challenge. A second challenge goes to the page.
  return send(request, url, body, credential, provider);
}

/**
 * Builds the response for a request whose expired token could not be renewed: a 503 with a
 * JSON body rather than a 401, so page code that logs out on 401 keeps the worker's session.
 */
function refreshFailedResponse(error: GuardianError): Response {
  const body = JSON.stringify({ error: error.code, error_description: error.message });
  return new Response(body, {
    status: 503,
    statusText: 'Token refresh failed',
    headers: { 'content-type': 'application/json', 'retry-after': '5', 'sw-token-guardian-error': error.code },
  });
}

/**
 * Builds the error for a request that got no response. A service worker's fetch reports neither a
 * network failure nor a refused CORS preflight in detail, so the message names both.
 */
function unreachableError(request: Request, url: URL, cause: unknown): GuardianError {
  const workerOrigin = globalThis.location?.origin;
  const corsHint = url.origin !== workerOrigin
    ? `; for this cross-origin resource, check that its CORS preflight answers OPTIONS for ${workerOrigin ?? 'the app origin'} with Access-Control-Allow-Headers listing Authorization and DPoP`
    : '';
  return new GuardianError(
    'resource_unreachable',
    `sw-token-guardian: ${request.method} ${url.origin}${url.pathname} got no response (${(cause as Error)?.message ?? String(cause)})${corsHint}; no refresh was started and the session is kept`,
    { cause },
  );
}

/**
 * Handles one intercepted request to a resource. Settles with the resource's response, a 503
 * `refresh_failed` response, or the fetch error.
 */
export async function fetchResource(request: Request, url: URL, context: ResourceFetchContext): Promise<Response> {
  const requestId = ++requestCount;
  const path = url.pathname;
  const startedAt = Date.now();
  const report = (outcome: RequestOutcome, status?: number, error?: GuardianError) => {
    const durationMs = Date.now() - startedAt;
    if (process.env.NODE_ENV !== 'production') devLog(`${request.method} ${path} ${outcome}${status === undefined ? '' : ` ${status}`} in ${durationMs} ms`, requestId);
    const source = { clientId: context.clientId ?? '', ownTab: false };
    const details = { ...(status === undefined ? {} : { status }), ...(error === undefined ? {} : { error: toErrorInfo(error) }) };
    context.emit?.({ type: 'request', requestId, method: request.method, path, outcome, durationMs, ...source, ...details });
  };
  const body = await readBody(request, context.maxReplayableBodyBytes ?? defaultMaxReplayableBodyBytes);
  // A request that got no response changes nothing in the session: no refresh, no logout.
  const sendOrReport = async (credential: Credential | null): Promise<Attempt> => {
    try {
      return await sendWithNonceRetry(request, url, body, credential, context.provider);
    } catch (error) {
      const unreachable = unreachableError(request, url, error);
      report('failed', undefined, unreachable);
      if (process.env.NODE_ENV !== 'production') devLog(unreachable.message, requestId);
      throw error;
    }
  };

  await context.sessions.ready();
  const target = context.target;
  const { credential, error } = await context.sessions.credentialFor(target, context.waitUntil);
  if (error !== null) {
    report('failed', 503, error);
    return refreshFailedResponse(error);
  }

  const attempt = await sendOrReport(credential);
  const response = attempt.response;
  if (credential !== null && response.status !== 401) context.sessions.noteAccepted(target, credential.generation);
  // A repeated nonce challenge is not a rejected token, so it triggers no refresh.
  if (response.status !== 401 || credential === null || attempt.nonceChallenge) {
    report(credential === null ? 'unauthorized' : 'attached', response.status);
    return response;
  }

  // One refresh for every request rejected on the same token; a request whose token was
  // already replaced gets the newer one without another refresh.
  const refreshing = context.sessions.refreshAfter(target, credential.generation, 'rejection');
  context.waitUntil(refreshing);
  if (!body.replayable) {
    // The stream was sent and cannot be sent again, so the 401 goes to the page; the refresh
    // still serves the requests that follow.
    report('unauthorized', response.status);
    return response;
  }
  const renewed = await context.sessions.waitLimited(refreshing);
  if (renewed === undefined || renewed === null || renewed.generation === credential.generation) {
    report('unauthorized', response.status);
    return response;
  }

  await response.body?.cancel();
  const retried = (await sendOrReport(renewed)).response;
  report('retried', retried.status);
  return retried;
}
