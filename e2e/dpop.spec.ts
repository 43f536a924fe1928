import { decodeJwt } from 'jose';
import { expect, fetchMany, logIn, openApp, test } from './fixtures.ts';

test('tokens are bound to a DPoP key', async ({ page, demo }) => {
  await logIn(page, demo);
  expect(await fetchMany(page, '/api/me', 2)).toEqual([200, 200]);
  expect(demo.api.records.map((record) => record.scheme)).toEqual(['DPoP', 'DPoP']);

  const claims = decodeJwt(demo.provider.secrets.accessTokens.at(-1)!);
  expect(typeof (claims.cnf as { jkt?: unknown }).jkt).toBe('string');

  const key = await page.evaluate(async () => {
    const request = indexedDB.open('sw-token-guardian');
    const database = await new Promise<IDBDatabase>((resolve) => (request.onsuccess = () => resolve(request.result)));
    const read = database.transaction('keyval').objectStore('keyval').get('session-dpop-key');
    const pair = await new Promise<CryptoKeyPair>((resolve) => (read.onsuccess = () => resolve(read.result as CryptoKeyPair)));
    database.close();
    const exported = await crypto.subtle.exportKey('jwk', pair.privateKey).then(
      () => 'exported',
      (error: Error) => error.name,
    );
    return { extractable: pair.privateKey.extractable, algorithm: (pair.privateKey.algorithm as EcKeyAlgorithm).namedCurve, exported };
  });
  expect(key).toEqual({ extractable: false, algorithm: 'P-256', exported: 'InvalidAccessError' });
});

test('exfiltrated tokens fail elsewhere', async ({ page, demo }) => {
  await logIn(page, demo);
  expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);

  // An injected script copies the stored session; the sealing key is a handle it can use.
  const stolen = await page.evaluate(async () => {
    const request = indexedDB.open('sw-token-guardian');
    const database = await new Promise<IDBDatabase>((resolve) => (request.onsuccess = () => resolve(request.result)));
    const store = database.transaction('keyval').objectStore('keyval');
    const read = <T,>(name: string) =>
      new Promise<T>((resolve) => {
        const get = store.get(name);
        get.onsuccess = () => resolve(get.result as T);
      });
    const sealingKey = await read<CryptoKey>('sealing-key');
    const sealed = await read<{ iv: Uint8Array<ArrayBuffer>; ciphertext: ArrayBuffer }>('session');
    database.close();
    const plaintext = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv }, sealingKey, sealed.ciphertext);
    return JSON.parse(new TextDecoder().decode(plaintext)) as { accessToken: string; refreshToken: string };
  });
  expect(demo.provider.secrets.refreshTokens).toContain(stolen.refreshToken);

  // Replayed from Node, without the private key, neither token works.
  const refresh = await fetch(`${demo.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stolen.refreshToken, client_id: demo.clientId }),
  });
  expect(refresh.status).toBe(400);
  expect(['invalid_grant', 'invalid_dpop_proof']).toContain(((await refresh.json()) as { error: string }).error);

  for (const scheme of ['Bearer', 'DPoP']) {
    const call = await fetch(`${demo.apiUrl}/me`, { headers: { authorization: `${scheme} ${stolen.accessToken}` } });
    expect(call.status).toBe(401);
  }

  // The session in the browser goes on.
  expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
});

test.describe('provider without DPoP', () => {
  test.use({ demoOptions: { providerDpop: false, guardian: { dpop: true } } });

  test('dpop true fails installation', async ({ page, demo }) => {
    await page.goto(demo.appUrl);
    await expect(page.locator('#status')).toContainText('not connected');
    await expect(page.locator('#status')).toContainText('registration_failed');
    expect(demo.provider.counters.authorizationCodeGrants).toBe(0);
  });
});

test.describe('provider nonces', () => {
  test.use({ demoOptions: { providerDpopNonce: true, accessTokenTtlSeconds: 3, guardian: { refreshLeewaySeconds: 0 } } });

  test('token endpoint nonce is retried once', async ({ page, demo }) => {
    await logIn(page, demo);
    await page.waitForTimeout(3_300);
    expect(await fetchMany(page, '/api/me', 3)).toEqual([200, 200, 200]);

    const counters = demo.provider.counters;
    expect(counters.authorizationCodeGrants).toBe(1);
    expect(counters.refreshGrants).toBe(1);
    // The first proof had no nonce; the retry carried the one from the challenge.
    expect(counters.grantErrors.use_dpop_nonce).toBeGreaterThanOrEqual(1);
    expect(counters.grantErrors.use_dpop_nonce).toBeLessThanOrEqual(2);
    expect(Object.keys(counters.grantErrors)).toEqual(['use_dpop_nonce']);
  });
});

test.describe('resource nonces', () => {
  test.use({ demoOptions: { apiDpopNonce: 'required' } });

  test('resource nonce is retried once', async ({ page, demo }) => {
    await logIn(page, demo);
    expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
    expect(demo.api.records.map((record) => [record.status, record.challenge])).toEqual([
      [401, 'use_dpop_nonce'],
      [200, null],
    ]);

    // The nonce is kept for the origin, so later requests need no challenge.
    expect(await fetchMany(page, '/api/me', 3)).toEqual([200, 200, 200]);
    expect(demo.api.records).toHaveLength(5);
    expect(demo.provider.counters.refreshGrants).toBe(0);
  });

  test('endless nonce demands reach the page', async ({ page, demo }) => {
    await logIn(page, demo);
    demo.api.setNonceMode('always-new');

    expect(await fetchMany(page, '/api/me', 1)).toEqual([401]);
    expect(demo.api.records.map((record) => record.challenge)).toEqual(['use_dpop_nonce', 'use_dpop_nonce']);
    expect(demo.provider.counters.refreshGrants).toBe(0);
    await openApp(page, demo);
    await expect(page.locator('#status')).toHaveAttribute('data-status', 'authenticated');
  });
});
