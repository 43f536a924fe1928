import { createHash } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { resolveConfig } from './config.ts';
import { generateDpopKeyPair, ProviderClient, type TokenSet } from './provider.ts';
import { fetchResource } from './resource-fetch.ts';
import { SessionManager } from './session.ts';

interface Sent {
  url: string;
  method: string;
  headers: Headers;
  body: string;
}

function decodePart(jwt: string, index: number): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[index]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function ath(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** Replaces global fetch with `respond` for one test and records what was sent. */
async function withFetch<T>(respond: (sent: Sent, index: number) => Response, run: (sent: Sent[]) => Promise<T>): Promise<T> {
  const original = globalThis.fetch;
  const sent: Sent[] = [];
  globalThis.fetch = (async (input: Request) => {
    const record = { url: input.url, method: input.method, headers: input.headers, body: await input.text() };
    sent.push(record);
    return respond(record, sent.length - 1);
  }) as typeof fetch;
  try {
    return await run(sent);
  } finally {
    globalThis.fetch = original;
  }
}

async function setup(refreshed?: TokenSet) {
  const config = resolveConfig(
    { issuer: 'https://login.example.com', clientId: 'spa', redirectUri: 'https://app.example.com/callback', resources: ['https://api.example.com/v1'] },
    'https://app.example.com/',
  );
  const provider = new ProviderClient(config);
  const keyPair = await generateDpopKeyPair();
  let refreshCount = 0;
  const sessions = new SessionManager({
    tokenTargets: config.tokenTargets,
    refresher: {
      refresh: async () => {
        refreshCount++;
        if (refreshed === undefined) throw new Error('no refresh expected');
        return refreshed;
      },
      revoke: async () => true,
    },
    refreshLeewaySeconds: 30,
    emit: () => undefined,
  });
  const expiresAt = Date.now() + 600_000;
  await sessions.signIn({ accessToken: 'access-1', refreshToken: 'refresh-1', idToken: undefined, expiresAt, lifetimeMs: 600_000, user: { sub: 'alice' } }, keyPair);
  const context = { sessions, target: config.resources[0]!.target, provider, waitUntil: () => undefined, emit: undefined };
  return { context, refreshCount: () => refreshCount };
}

test('proof claims follow the request', async () => {
  const { context } = await setup();
  const request = new Request('https://api.example.com:443/v1/items?page=2#top', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Basic c3B5', 'x-trace': 'abc' },
    body: '{"a":1}',
  });

  await withFetch(
    () => new Response('ok'),
    async (sent) => {
      const response = await fetchResource(request, new URL(request.url), context);
      expect(response.status).toBe(200);
      expect(sent).toHaveLength(1);
      const { headers, body, url } = sent[0]!;
      // Fetch never sends the fragment; the proof below leaves out query and fragment both.
      expect(url).toBe('https://api.example.com/v1/items?page=2#top');
      expect(body).toBe('{"a":1}');
      expect(headers.get('x-trace')).toBe('abc');
      expect(headers.get('authorization')).toBe('DPoP access-1');

      const proof = headers.get('dpop')!;
      const header = decodePart(proof, 0);
      const claims = decodePart(proof, 1);
      expect(header.typ).toBe('dpop+jwt');
      expect(header.alg).toBe('ES256');
      expect((header.jwk as Record<string, unknown>).d).toBeUndefined();
      expect(claims.htm).toBe('POST');
      expect(claims.htu).toBe('https://api.example.com/v1/items');
      expect(claims.ath).toBe(ath('access-1'));
      expect(Math.abs((claims.iat as number) - Date.now() / 1000)).toBeLessThan(5);
      expect(typeof claims.jti).toBe('string');
      expect(claims.nonce).toBeUndefined();
    },
  );
});

test('retry after 401 gets a new proof', async () => {
  const { context, refreshCount } = await setup({ accessToken: 'access-2', refreshToken: 'refresh-2', idToken: undefined, expiresAt: Date.now() + 600_000, lifetimeMs: 600_000 });
  const request = new Request('https://api.example.com/v1/items', { method: 'PUT', body: 'same bytes' });

  await withFetch(
    (_sent, index) => (index === 0 ? new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_token"' } }) : new Response('ok')),
    async (sent) => {
      expect((await fetchResource(request, new URL(request.url), context)).status).toBe(200);
      expect(refreshCount()).toBe(1);
      expect(sent.map((attempt) => attempt.body)).toEqual(['same bytes', 'same bytes']);
      const [first, second] = sent.map((attempt) => decodePart(attempt.headers.get('dpop')!, 1));
      expect(first!.ath).toBe(ath('access-1'));
      expect(second!.ath).toBe(ath('access-2'));
      expect(first!.jti).not.toBe(second!.jti);
    },
  );
});

test('nonce challenge retried once', async () => {
  const { context, refreshCount } = await setup();
  const challenge = (nonce: string) =>
    new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': nonce } });

  await withFetch(
    (_sent, index) => (index === 0 ? challenge('nonce-1') : new Response('ok')),
    async (sent) => {
      expect((await fetchResource(new Request('https://api.example.com/v1/a'), new URL('https://api.example.com/v1/a'), context)).status).toBe(200);
      expect(sent.map((attempt) => decodePart(attempt.headers.get('dpop')!, 1).nonce)).toEqual([undefined, 'nonce-1']);
    },
  );

  await withFetch(
    (_sent, index) => challenge(`nonce-${index + 2}`),
    async (sent) => {
      const response = await fetchResource(new Request('https://api.example.com/v1/b'), new URL('https://api.example.com/v1/b'), context);
      expect(response.status).toBe(401);
      expect(sent).toHaveLength(2);
      expect(sent.map((attempt) => decodePart(attempt.headers.get('dpop')!, 1).nonce)).toEqual(['nonce-1', 'nonce-2']);
      expect(refreshCount()).toBe(0);
    },
  );
});

test('large stream sent once without retry', async () => {
  const { context, refreshCount } = await setup({ accessToken: 'access-2', refreshToken: 'refresh-2', idToken: undefined, expiresAt: Date.now() + 600_000, lifetimeMs: 600_000 });
  const text = 'x'.repeat(100);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode(text.slice(i * 10, i * 10 + 10)));
      controller.close();
    },
  });
  const request = new Request('https://api.example.com/v1/upload', { method: 'POST', body: stream, duplex: 'half' } as RequestInit);

  await withFetch(
    () => new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_token"' } }),
    async (sent) => {
      const response = await fetchResource(request, new URL(request.url), { ...context, maxReplayableBodyBytes: 25 });
      expect(response.status).toBe(401);
      expect(sent).toHaveLength(1);
      expect(sent[0]!.body).toBe(text);
      // The refresh still runs for the requests that follow.
      await expect.poll(refreshCount).toBe(1);
    },
  );
});

test('small body is replayed after 401', async () => {
  const { context } = await setup({ accessToken: 'access-2', refreshToken: 'refresh-2', idToken: undefined, expiresAt: Date.now() + 600_000, lifetimeMs: 600_000 });
  const request = new Request('https://api.example.com/v1/upload', { method: 'POST', body: new Blob(['blob ', 'parts']) });

  await withFetch(
    (_sent, index) => new Response(null, { status: index === 0 ? 401 : 200, headers: index === 0 ? { 'www-authenticate': 'DPoP error="invalid_token"' } : {} }),
    async (sent) => {
      expect((await fetchResource(request, new URL(request.url), { ...context, maxReplayableBodyBytes: 25 })).status).toBe(200);
      expect(sent.map((attempt) => attempt.body)).toEqual(['blob parts', 'blob parts']);
    },
  );
});
