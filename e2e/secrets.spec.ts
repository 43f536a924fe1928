import type { Page } from '@playwright/test';
import type { GuardianEvent } from '../client/index.ts';
import { expect, fetchMany, logIn, openApp, test } from './fixtures.ts';

/** Collects, as text, everything a script in the page can read without the worker's help. */
async function readEverythingInPage(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const toText = (value: unknown): string => {
      if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
        const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
        return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
      }
      if (typeof value === 'object' && value !== null) {
        if (value instanceof CryptoKey) return `[CryptoKey ${value.type} extractable=${value.extractable}]`;
        return Object.entries(value).map(([key, inner]) => `${key}=${toText(inner)}`).join('\n');
      }
      return String(value);
    };

    const parts: string[] = [location.href, document.referrer, document.cookie, String(history.length)];
    parts.push(...performance.getEntries().map((entry) => entry.name));
    for (const storage of [localStorage, sessionStorage]) {
      for (let i = 0; i < storage.length; i++) parts.push(`${storage.key(i)}=${storage.getItem(storage.key(i)!)}`);
    }

    for (const info of await indexedDB.databases()) {
      const database = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open(info.name!);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      for (const storeName of Array.from(database.objectStoreNames)) {
        const store = database.transaction(storeName).objectStore(storeName);
        const [keys, values] = await Promise.all(
          [store.getAllKeys(), store.getAll()].map(
            (request) => new Promise<unknown[]>((resolve) => (request.onsuccess = () => resolve(request.result as unknown[]))),
          ),
        );
        parts.push(`idb ${info.name}/${storeName}`, ...keys!.map(toText), ...values!.map(toText));
      }
      database.close();
    }

    for (const cacheName of await caches.keys()) {
      const cache = await caches.open(cacheName);
      for (const request of await cache.keys()) {
        parts.push(request.url, await ((await cache.match(request))?.text() ?? Promise.resolve('')));
      }
    }
    return parts.join('\n');
  });
}

function expectNoSecret(haystack: string, secrets: string[], where: string): void {
  for (const secret of secrets) {
    expect(haystack.includes(secret), `${where} contains a secret issued by the provider`).toBe(false);
  }
}

test('no token, code or verifier reaches the page', async ({ context, page, demo }) => {
  // While the user is at the provider, the login transaction is stored: read it from a second tab.
  await openApp(page, demo);
  await page.click('#login');
  await page.waitForURL(`${demo.issuer}/interaction/**`);
  const duringLogin = await context.newPage();
  await openApp(duringLogin, demo);
  const readableDuringLogin = await readEverythingInPage(duringLogin);
  expect(readableDuringLogin).toContain('idb sw-token-guardian/keyval');
  await duringLogin.close();

  await page.fill('input[name=username]', 'alice');
  await page.fill('input[name=password]', 'wonderland');
  await page.click('#sign-in');
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'authenticated');

  // Exercise a refresh so that rotated tokens exist too, and record every event and return value.
  const observed = await page.evaluate(async () => {
    const guardian = (window as unknown as { demoGuardian: import('../client/index.ts').TokenGuardian }).demoGuardian;
    const events: GuardianEvent[] = [];
    guardian.subscribe((event) => events.push(event));
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch('/api/me')).status);
    const state = await guardian.getAuthState();
    (window as unknown as { observedEvents: GuardianEvent[] }).observedEvents = events;
    return { state, statuses };
  });
  expect(observed.statuses).toEqual([200, 200, 200]);
  demo.api.rejectSeenTokens();
  expect(await fetchMany(page, '/api/me', 5)).toEqual([200, 200, 200, 200, 200]);
  expect(demo.provider.counters.refreshGrants).toBe(1);
  // The reports API's token is a second access token, obtained with a second refresh.
  expect(await fetchMany(page, `${demo.reportsUrl}/summary`, 2)).toEqual([200, 200]);
  expect(demo.provider.counters.refreshGrants).toBe(2);
  const events = await page.evaluate(() => (window as unknown as { observedEvents: unknown[] }).observedEvents);
  expect(events.some((event) => (event as GuardianEvent).type === 'refresh')).toBe(true);

  const secrets = demo.provider.secrets;
  const allSecrets = [...secrets.accessTokens, ...secrets.refreshTokens, ...secrets.idTokens, ...secrets.codes, ...secrets.codeVerifiers];
  expect(secrets.codes).toHaveLength(1);
  expect(secrets.codeVerifiers).toHaveLength(1);
  expect(secrets.refreshTokens).toHaveLength(3);
  expect(secrets.accessTokens).toHaveLength(3);

  expectNoSecret(readableDuringLogin, secrets.codeVerifiers, 'storage during the login');
  expectNoSecret(await readEverythingInPage(page), allSecrets, 'page-readable storage after login');
  expectNoSecret(JSON.stringify(events), allSecrets, 'guardian events');
  expectNoSecret(JSON.stringify(observed.state), allSecrets, 'getAuthState');
  expect(observed.state.status).toBe('authenticated');

  const cookies = await context.cookies();
  expectNoSecret(JSON.stringify(cookies), allSecrets, 'cookies');
  expectNoSecret(page.url(), allSecrets, 'the page URL');
});
