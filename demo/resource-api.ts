// The demo resource API verifies JWT access tokens with jose and rejects others with 401 and
// a Bearer challenge. It records each request so tests can count requests where they land.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

export interface ApiRequestRecord {
  method: string;
  path: string;
  /** Whether an Authorization header arrived, never its value. */
  authorized: boolean;
  status: number;
  tokenId: string | null;
  bodySha256: string | null;
}

export interface ResourceApi {
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  records: ApiRequestRecord[];
  /** From now on, rejects every token this API has accepted so far, as if the provider had revoked them. */
  rejectSeenTokens: () => void;
}

export interface ResourceApiOptions {
  issuer: string;
  jwksUri: string;
  audience: string;
  /** Largest accepted request body, in bytes. */
  maxBodyBytes?: number;
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

export function createResourceApi(options: ResourceApiOptions): ResourceApi {
  const keySet = createRemoteJWKSet(new URL(options.jwksUri));
  const records: ApiRequestRecord[] = [];
  const seenTokenIds = new Set<string>();
  const rejectedTokenIds = new Set<string>();
  const maxBodyBytes = options.maxBodyBytes ?? 8 * 1024 * 1024;

  async function verify(authorization: string | undefined): Promise<JWTPayload | string> {
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(authorization ?? '');
    if (match === null) return 'missing or malformed Bearer token';
    try {
      const { payload } = await jwtVerify(match[1]!, keySet, {
        issuer: options.issuer,
        audience: options.audience,
        typ: 'at+jwt',
        clockTolerance: 0,
      });
      if (typeof payload.jti === 'string' && rejectedTokenIds.has(payload.jti)) return 'token revoked';
      return payload;
    } catch (error) {
      return (error as Error).message;
    }
  }

  async function respond(req: IncomingMessage, res: ServerResponse, record: ApiRequestRecord): Promise<void> {
    const body = req.method === 'GET' || req.method === 'HEAD' ? null : await readBody(req, maxBodyBytes);
    if (body !== null) record.bodySha256 = createHash('sha256').update(body).digest('hex');

    const result = await verify(req.headers.authorization);
    if (typeof result === 'string') {
      record.status = 401;
      sendJson(res, 401, { error: 'invalid_token', error_description: result }, { 'www-authenticate': 'Bearer error="invalid_token"' });
      return;
    }

    record.tokenId = typeof result.jti === 'string' ? result.jti : null;
    if (record.tokenId !== null) seenTokenIds.add(record.tokenId);
    record.status = 200;
    sendJson(res, 200, {
      sub: result.sub,
      scope: result.scope,
      method: req.method,
      path: record.path,
      bodySha256: record.bodySha256,
      bodyBytes: body?.length ?? 0,
      at: new Date().toISOString(),
    });
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const record: ApiRequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      authorized: req.headers.authorization !== undefined,
      status: 0,
      tokenId: null,
      bodySha256: null,
    };
    records.push(record);
    respond(req, res, record).catch((error: unknown) => {
      record.status = error instanceof RangeError ? 413 : 500;
      if (!res.headersSent) sendJson(res, record.status, { error: String(error) });
      else res.end();
    });
  }

  return {
    handle,
    records,
    rejectSeenTokens: () => {
      for (const id of seenTokenIds) rejectedTokenIds.add(id);
    },
  };
}
