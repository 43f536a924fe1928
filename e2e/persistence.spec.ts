import { chromium } from '@playwright/test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authStatus, expect, fetchMany, logIn, openApp, skipUnlessChromium, stopServiceWorkers, test } from './fixtures.ts';

test('stopped worker restores DPoP session', async ({ page, demo }) => {
  await logIn(page, demo);
  expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);

  await stopServiceWorkers(page);
  expect(await fetchMany(page, '/api/me', 3)).toEqual([200, 200, 200]);
  expect(demo.api.records.at(-1)?.scheme).toBe('DPoP');
  expect(await authStatus(page)).toBe('authenticated');
  // The access token was still valid, so the restored session needed no grant at all.
  expect(demo.provider.counters.refreshGrants).toBe(0);
  expect(demo.provider.counters.authorizationCodeGrants).toBe(1);
});

test.describe('restored session refresh', () => {
  test.use({ demoOptions: { accessTokenTtlSeconds: 4, guardian: { refreshLeewaySeconds: 0 } } });

  test('restored session refreshes after expiry', async ({ page, demo }) => {
    await logIn(page, demo);
    await stopServiceWorkers(page);
    await page.waitForTimeout(4_500);

    expect(await fetchMany(page, '/api/me', 10)).toEqual(Array(10).fill(200));
    expect(demo.provider.counters.refreshGrants).toBe(1);
    expect(demo.provider.counters.grantErrors).toEqual({});
  });

  test('cleared IndexedDB is written again', async ({ page, demo }) => {
    skipUnlessChromium(page, 'clearing one storage type');
    await logIn(page, demo);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Storage.clearDataForOrigin', { origin: demo.appUrl, storageTypes: 'indexeddb' });
    await cdp.detach();

    await page.waitForTimeout(4_500);
    expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
    await openApp(page, demo);
    await expect(page.locator('#status')).toHaveAttribute('data-status', 'authenticated');
    await expect(page.locator('#error')).toHaveText('–');

    // The refreshed session went into a new database, so a restarted worker finds it.
    await stopServiceWorkers(page);
    expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
    expect(demo.provider.counters.refreshGrants).toBe(1);
    expect(demo.provider.counters.grantErrors).toEqual({});
  });

  test('rotated tokens are stored before use', async ({ page, demo }) => {
    await logIn(page, demo);
    await page.waitForTimeout(4_500);
    expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
    expect(demo.provider.counters.refreshGrants).toBe(1);

    // The restored session contains the rotated refresh token and the fresh access token.
    await stopServiceWorkers(page);
    expect(await fetchMany(page, '/api/me', 2)).toEqual([200, 200]);
    expect(demo.provider.counters.refreshGrants).toBe(1);
    await page.waitForTimeout(4_500);
    expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
    expect(demo.provider.counters.refreshGrants).toBe(2);
    expect(demo.provider.counters.grantErrors).toEqual({});
  });
});

test('browser restart keeps the session', async ({ demo, browserName }, testInfo) => {
  test.skip(browserName !== 'chromium', 'the restart relaunches Chromium with a persistent profile');
  const profile = await mkdtemp(join(tmpdir(), 'guardian-profile-'));
  const launchOptions = testInfo.project.use.launchOptions ?? {};
  try {
    const first = await chromium.launchPersistentContext(profile, launchOptions);
    const page = first.pages()[0] ?? (await first.newPage());
    await logIn(page, demo);
    await first.close();

    const second = await chromium.launchPersistentContext(profile, launchOptions);
    const reopened = second.pages()[0] ?? (await second.newPage());
    await openApp(reopened, demo);
    await expect(reopened.locator('#status')).toHaveAttribute('data-status', 'authenticated');
    expect(await fetchMany(reopened, '/api/me', 2)).toEqual([200, 200]);
    expect(demo.provider.counters.authorizationCodeGrants).toBe(1);
    expect(demo.provider.counters.refreshGrants).toBe(0);
    await second.close();
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
});

test('login survives worker stop at provider', async ({ page, demo }) => {
  await openApp(page, demo);
  await page.click('#login');
  await page.waitForURL(`${demo.issuer}/interaction/**`);

  await stopServiceWorkers(page);
  await page.fill('input[name=username]', 'alice');
  await page.fill('input[name=password]', 'wonderland');
  await page.click('#sign-in');

  await page.waitForURL(`${demo.appUrl}/`);
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'authenticated');
  expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
  expect(demo.api.records.at(-1)?.scheme).toBe('DPoP');
});

test('deleted DPoP key requires login', async ({ page, demo }) => {
  await logIn(page, demo);
  await page.evaluate(async () => {
    const request = indexedDB.open('sw-token-guardian');
    const database = await new Promise<IDBDatabase>((resolve) => (request.onsuccess = () => resolve(request.result)));
    const transaction = database.transaction('keyval', 'readwrite');
    transaction.objectStore('keyval').delete('session-dpop-key');
    await new Promise((resolve) => (transaction.oncomplete = resolve));
    database.close();
  });
  await stopServiceWorkers(page);

  const recordsBefore = demo.api.records.length;
  expect(await fetchMany(page, '/api/me', 3)).toEqual([401, 401, 401]);
  expect(demo.api.records.slice(recordsBefore).every((record) => !record.authorized)).toBe(true);
  await openApp(page, demo);
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'login_required');
  await expect(page.locator('#error')).toContainText('session_lost');
  expect(demo.provider.counters.refreshGrants).toBe(0);
  expect(demo.provider.counters.grantErrors).toEqual({});

  // The stored session was deleted, so the next start is a clean "unauthenticated".
  await stopServiceWorkers(page);
  expect(await authStatus(page)).toBe('unauthenticated');
});

test.describe('memory persistence', () => {
  test.use({ demoOptions: { guardian: { persistence: 'memory' } } });

  test('stopped worker ends the session', async ({ page, demo }) => {
    await logIn(page, demo);
    const names = await page.evaluate(async () => (await indexedDB.databases()).map((database) => database.name));
    expect(names).toEqual(['sw-token-guardian']);

    // A request in flight when the worker stops settles: with the response, with a network
    // error, or with a 401 when Chromium falls back to the network without the worker.
    const pending = page.evaluate(async () => {
      try {
        return String((await fetch('/api/slow?ms=1500')).status);
      } catch (error) {
        return (error as Error).name;
      }
    });
    await page.waitForTimeout(300);
    await stopServiceWorkers(page);
    expect(['200', '401', 'TypeError']).toContain(await pending);

    expect(await fetchMany(page, '/api/me', 2)).toEqual([401, 401]);
    expect(await authStatus(page)).toBe('unauthenticated');
  });
});

test.describe('bearer tokens', () => {
  test.use({ demoOptions: { providerDpop: false } });

  test('bearer session stays in memory', async ({ page, demo }) => {
    await logIn(page, demo);
    expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
    expect(demo.api.records.at(-1)?.scheme).toBe('Bearer');

    await stopServiceWorkers(page);
    expect(await fetchMany(page, '/api/me', 1)).toEqual([401]);
    expect(await authStatus(page)).toBe('unauthenticated');
  });
});

test.describe('bearer tokens in IndexedDB', () => {
  test.use({ demoOptions: { providerDpop: false, guardian: { persistence: 'indexeddb' } } });

  test('indexeddb persistence restores bearer', async ({ page, demo }) => {
    await logIn(page, demo);
    await stopServiceWorkers(page);
    expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
    expect(demo.api.records.at(-1)?.scheme).toBe('Bearer');
    expect(await authStatus(page)).toBe('authenticated');
  });
});
