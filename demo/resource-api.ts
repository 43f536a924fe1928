// The demo resource API verifies JWT access tokens with jose and rejects others with 401 and
// a challenge. Tokens bound to a DPoP key (a `cnf.jkt` claim) need a valid DPoP proof. It
// records each request so tests can count requests where they land.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { calculateJwkThumbprint, createRemoteJWKSet, decodeJwt, EmbeddedJWK, jwtVerify, type JWTPayload } from 'jose';

export interface ApiRequestRecord {
  method: string;
  path: string;
  /** Whether an Authorization header arrived, never its value. */
  authorized: boolean;
  /** Authorization scheme, such as `Bearer` or `DPoP`. */
  scheme: string | null;
  status: number;
  /** The `error` of the challenge sent with a 401. */
  challenge: string | null;
  tokenId: string | null;
  /** The `aud` claim of the token that arrived, read before any check, so tests see misdirected tokens too. */
  tokenAudience: string | string[] | null;
  bodySha256: string | null;
}

/** CORS policy of an API that pages on another origin call. */
export interface CorsPolicy {
  /** The origins allowed to call, such as the app's. */
  allowOrigins: string[];
  /** Request headers the preflight allows. Default: Authorization, DPoP, Content-Type. */
  allowHeaders?: string[];
}

/**
 * DPoP nonce policy. `off` issues no nonce, and `required` demands the one nonce it issued.
 * `always-new` rejects every proof with a fresh nonce, like a resource whose nonces never settle.
 */
export type DpopNonceMode = 'off' | 'required' | 'always-new';

export interface ResourceApi {
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  records: ApiRequestRecord[];
  /** From now on, rejects every token this API has accepted so far, as if the provider had revoked them. */
  rejectSeenTokens: () => void;
  /** Changes the DPoP nonce policy for later requests. */
  setNonceMode: (mode: DpopNonceMode) => void;
  /** Rejects every token, fresh ones included, as an API with the wrong audience would. */
  setRejectAll: (rejectAll: boolean) => void;
  /** Changes the request headers the CORS preflight allows; only for an API created with `cors`. */
  setCorsAllowedHeaders: (headers: string[]) => void;
  /** Number of preflight requests received so far. */
  preflights: number;
}

export interface ResourceApiOptions {
  issuer: string;
  jwksUri: string;
  audience: string;
  /** Origin the API is reached at, for checking a proof's `htu`. */
  origin: string;
  nonceMode?: DpopNonceMode;
  /** CORS policy: the API responds to preflights and adds CORS headers, for an API on another origin than the app. */
  cors?: CorsPolicy;
  /** Largest accepted request body, in bytes. */
  maxBodyBytes?: number;
}

/** Accepted distance between a proof's `iat` and this server's clock, in seconds. */
const proofMaxAgeSeconds = 60;

class Rejection extends Error {
  constructor(
    readonly scheme: 'Bearer' | 'DPoP',
    readonly error: 'invalid_token' | 'invalid_dpop_proof' | 'use_dpop_nonce',
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new RangeError(`request body larger than ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/** SHA-256 (hex) of each file in a multipart/form-data body, by field name. */
async function hashUploadedFiles(body: Buffer, contentType: string | undefined): Promise<Record<string, string> | undefined> {
  if (contentType?.startsWith('multipart/form-data') !== true) return undefined;
  const form = await new Response(new Uint8Array(body), { headers: { 'content-type': contentType } }).formData();
  const hashes: Record<string, string> = {};
  for (const [field, value] of form) {
    if (typeof value === 'string') continue;
    hashes[field] = createHash('sha256').update(Buffer.from(await value.arrayBuffer())).digest('hex');
  }
  return hashes;
}

function sha256Base64Url(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

function audienceOf(authorization: string | undefined): string | string[] | null {
  const token = authorization?.split(' ')[1];
  if (token === undefined) return null;
  try {
    return decodeJwt(token).aud ?? null;
  } catch {
    return null;
  }
}

export function createResourceApi(options: ResourceApiOptions): ResourceApi {
  const keySet = createRemoteJWKSet(new URL(options.jwksUri));
  const records: ApiRequestRecord[] = [];
  const seenTokenIds = new Set<string>();
  const rejectedTokenIds = new Set<string>();
  // Proof identifiers seen within the acceptance window, with the time they expire from it.
  const seenProofIds = new Map<string, number>();
  const maxBodyBytes = options.maxBodyBytes ?? 8 * 1024 * 1024;
  let nonceMode: DpopNonceMode = options.nonceMode ?? 'off';
  let rejectAll = false;
  let currentNonce = createHash('sha256').update(String(Math.random())).digest('base64url');

  async function verifyProof(req: IncomingMessage, url: URL, token: string, jkt: string): Promise<void> {
    const proofHeader = req.headers.dpop;
    if (typeof proofHeader !== 'string') throw new Rejection('DPoP', 'invalid_dpop_proof', 'missing DPoP proof');

    let verified;
    try {
      verified = await jwtVerify(proofHeader, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256', 'PS256', 'RS256', 'EdDSA'] });
    } catch (error) {
      throw new Rejection('DPoP', 'invalid_dpop_proof', `proof signature: ${(error as Error).message}`);
    }
    const proof = verified.payload;
    const now = Math.floor(Date.now() / 1000);

    if (proof.htm !== req.method) throw new Rejection('DPoP', 'invalid_dpop_proof', 'htm does not match the request method');
    if (proof.htu !== `${options.origin}${url.pathname}`) throw new Rejection('DPoP', 'invalid_dpop_proof', 'htu does not match the request URL');
    if (typeof proof.iat !== 'number' || Math.abs(now - proof.iat) > proofMaxAgeSeconds) {
      throw new Rejection('DPoP', 'invalid_dpop_proof', 'iat is outside the accepted window');
    }
    if (proof.ath !== sha256Base64Url(token)) throw new Rejection('DPoP', 'invalid_dpop_proof', 'ath does not match the access token');
    if ((await calculateJwkThumbprint(verified.protectedHeader.jwk!)) !== jkt) {
      throw new Rejection('DPoP', 'invalid_token', 'the proof key does not match the token cnf.jkt');
    }

    if (nonceMode === 'always-new' || (nonceMode === 'required' && proof.nonce !== currentNonce)) {
      if (nonceMode === 'always-new') currentNonce = sha256Base64Url(`${currentNonce}${Math.random()}`);
      throw new Rejection('DPoP', 'use_dpop_nonce', 'a fresh DPoP nonce is required');
    }

    for (const [id, expiresAt] of seenProofIds) if (expiresAt < now) seenProofIds.delete(id);
    if (typeof proof.jti !== 'string' || seenProofIds.has(proof.jti)) {
      throw new Rejection('DPoP', 'invalid_dpop_proof', 'jti is missing or was used before');
    }
    seenProofIds.set(proof.jti, proof.iat + proofMaxAgeSeconds);
  }

  async function verify(req: IncomingMessage, url: URL): Promise<JWTPayload> {
    const match = /^(Bearer|DPoP) ([A-Za-z0-9._~+/-]+=*)$/.exec(req.headers.authorization ?? '');
    if (match === null) throw new Rejection('Bearer', 'invalid_token', 'missing or malformed Authorization header');
    const scheme = match[1] as 'Bearer' | 'DPoP';
    const token = match[2]!;

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keySet, { issuer: options.issuer, audience: options.audience, typ: 'at+jwt', clockTolerance: 0 }));
    } catch (error) {
      throw new Rejection(scheme, 'invalid_token', (error as Error).message);
    }
    if (typeof payload.jti === 'string' && rejectedTokenIds.has(payload.jti)) throw new Rejection(scheme, 'invalid_token', 'token revoked');
    if (rejectAll) throw new Rejection(scheme, 'invalid_token', 'this API rejects every token');

    const jkt = (payload.cnf as { jkt?: unknown } | undefined)?.jkt;
    if (typeof jkt === 'string') {
      if (scheme !== 'DPoP') throw new Rejection('DPoP', 'invalid_token', 'a DPoP-bound token must be sent with the DPoP scheme');
      await verifyProof(req, url, token, jkt);
    } else if (scheme === 'DPoP') {
      throw new Rejection('DPoP', 'invalid_token', 'the token is not bound to a DPoP key');
    }
    return payload;
  }

  async function respond(req: IncomingMessage, res: ServerResponse, url: URL, record: ApiRequestRecord): Promise<void> {
    const body = req.method === 'GET' || req.method === 'HEAD' ? null : await readBody(req, maxBodyBytes);
    if (body !== null) record.bodySha256 = createHash('sha256').update(body).digest('hex');

    let payload: JWTPayload;
    try {
      payload = await verify(req, url);
    } catch (error) {
      if (!(error instanceof Rejection)) throw error;
      record.status = 401;
      record.challenge = error.error;
      const headers: Record<string, string> = { 'www-authenticate': `${error.scheme} error="${error.error}"` };
      if (error.error === 'use_dpop_nonce') headers['dpop-nonce'] = currentNonce;
      sendJson(res, 401, { error: error.error, error_description: error.message }, headers);
      return;
    }

    record.tokenId = typeof payload.jti === 'string' ? payload.jti : null;
    if (record.tokenId !== null) seenTokenIds.add(record.tokenId);
    if (url.pathname === '/api/redirect') {
      // Sends the client on to another origin, for tests that credentials do not follow.
      record.status = 302;
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/', 'cache-control': 'no-store' });
      res.end();
      return;
    }
    if (url.pathname === '/api/slow') {
      // A slow endpoint for tests of requests in flight: waits ?ms= milliseconds, at most 5000.
      const delayMs = Math.min(Number(url.searchParams.get('ms')) || 0, 5000);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    record.status = 200;
    const files = body === null ? undefined : await hashUploadedFiles(body, req.headers['content-type']);
    sendJson(res, 200, {
      files,
      sub: payload.sub,
      scope: payload.scope,
      boundToKey: payload.cnf !== undefined,
      method: req.method,
      path: record.path,
      bodySha256: record.bodySha256,
      bodyBytes: body?.length ?? 0,
      at: new Date().toISOString(),
    });
  }

  const defaultCorsHeaders = ['Authorization', 'DPoP', 'Content-Type'];
  let corsAllowedHeaders = options.cors?.allowHeaders ?? defaultCorsHeaders;
  const api = { preflights: 0 };

  /** Responds to a preflight, or adds CORS headers to the response. Returns false when the request is done. */
  function applyCors(req: IncomingMessage, res: ServerResponse): boolean {
    const cors = options.cors;
    if (cors === undefined) return true;
    res.setHeader('vary', 'Origin');
    const origin = req.headers.origin;
    if (origin !== undefined && cors.allowOrigins.includes(origin)) {
      res.setHeader('access-control-allow-origin', origin);
      // The worker reads challenges and DPoP nonces from responses to cross-origin requests.
      res.setHeader('access-control-expose-headers', 'WWW-Authenticate, DPoP-Nonce');
    }
    if (req.method !== 'OPTIONS') return true;
    api.preflights++;
    res.writeHead(204, {
      'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE',
      'access-control-allow-headers': corsAllowedHeaders.join(', '),
      'access-control-max-age': '0',
    });
    res.end();
    return false;
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    if (!applyCors(req, res)) return;
    const url = new URL(req.url ?? '/', options.origin);
    const authorization = req.headers.authorization;
    const record: ApiRequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      authorized: authorization !== undefined,
      scheme: authorization?.split(' ')[0] ?? null,
      status: 0,
      challenge: null,
      tokenId: null,
      tokenAudience: audienceOf(authorization),
      bodySha256: null,
    };
    records.push(record);
    respond(req, res, url, record).catch((error: unknown) => {
      record.status = error instanceof RangeError ? 413 : 500;
      if (!res.headersSent) sendJson(res, record.status, { error: String(error) });
      else res.end();
    });
  }

  return {
    handle,
    records,
    get preflights() {
      return api.preflights;
    },
    setCorsAllowedHeaders: (headers) => {
      corsAllowedHeaders = headers;
    },
    rejectSeenTokens: () => {
      for (const id of seenTokenIds) rejectedTokenIds.add(id);
    },
    setNonceMode: (mode) => {
      nonceMode = mode;
    },
    setRejectAll: (value) => {
      rejectAll = value;
    },
  };
}
