import type { Page } from '@playwright/test';
import { authStatus, expect, fetchMany, logIn, openApp, openTab, skipUnlessChromium, stopServiceWorkers, test } from './fixtures.ts';

interface Reply {
  status: number;
  error: string | null;
}

/** Fetches once and returns the status and the guardian's error header, or the thrown error's name. */
function fetchReply(page: Page, path: string): Promise<Reply | string> {
  return page.evaluate(async (target) => {
    try {
      const response = await fetch(target);
      return { status: response.status, error: response.headers.get('sw-token-guardian-error') };
    } catch (error) {
      return (error as Error).name;
    }
  }, path);
}

test.describe('provider outages', () => {
  test.use({ demoOptions: { accessTokenTtlSeconds: 3, guardian: { refreshLeewaySeconds: 0, providerTimeoutMs: 2000 } } });

  test('unreachable provider keeps the session', async ({ page, demo }) => {
    await logIn(page, demo);
    demo.provider.faults.set({ mode: 'unreachable' });
    await page.waitForTimeout(3_300);

    const startedAt = Date.now();
    expect(await fetchReply(page, '/api/me')).toEqual({ status: 503, error: 'refresh_failed' });
    // Three attempts with short pauses; the request never waits past the 2 s limit by much.
    expect(Date.now() - startedAt).toBeLessThan(4_000);
    expect(await authStatus(page)).toBe('authenticated');
    await expect(page.locator('#error')).toContainText('refresh_failed');
    // Chromium sends a request again by itself once when a reused connection closes unanswered,
    // so three attempts may reach the provider up to six times.
    const attempts = demo.provider.faults.arrivals.length;
    expect(attempts).toBeGreaterThanOrEqual(1);
    expect(attempts).toBeLessThanOrEqual(6);

    // During the pause no request reaches the provider, and requests settle at once.
    expect(await fetchReply(page, '/api/me')).toEqual({ status: 503, error: 'refresh_failed' });
    await page.waitForTimeout(500);
    expect(demo.provider.faults.arrivals.length).toBe(attempts);

    // After the pause (5 s ± 20%), the first request after recovery succeeds.
    demo.provider.faults.set({ mode: 'none' });
    await page.waitForTimeout(6_500);
    expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
    expect(demo.provider.counters.refreshGrants).toBe(1);
    expect(demo.provider.counters.authorizationCodeGrants).toBe(1);
  });

  test('Retry-After is honoured', async ({ page, demo }) => {
    await logIn(page, demo);
    demo.provider.faults.set({ mode: 'status', status: 503, retryAfterSeconds: 1, count: 1 });
    await page.waitForTimeout(3_300);

    expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
    const [first, second] = demo.provider.faults.arrivals.slice(-2);
    expect(second! - first!).toBeGreaterThanOrEqual(950);
    expect(demo.provider.counters.refreshGrants).toBe(1);
  });

  test('offline across expiry refreshes when back', async ({ context, page, demo }) => {
    await logIn(page, demo);
    await context.setOffline(true);
    await page.waitForTimeout(3_300);

    const offline = await fetchReply(page, '/api/me');
    expect(offline === 'TypeError' || (typeof offline === 'object' && offline.status === 503)).toBe(true);
    expect(await authStatus(page)).toBe('authenticated');

    // Back online, the page notifies the worker, which refreshes without waiting for a request.
    await context.setOffline(false);
    await expect.poll(() => demo.provider.counters.refreshGrants, { timeout: 5_000 }).toBe(1);
    expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
    expect(await authStatus(page)).toBe('authenticated');
  });
});

test.describe('lost refresh responses', () => {
  test.use({ demoOptions: { accessTokenTtlSeconds: 3, guardian: { refreshLeewaySeconds: 0, providerTimeoutMs: 2000 } } });

  test('strict provider ends in login_required', async ({ context, page, demo }) => {
    await logIn(page, demo);
    const other = await openTab(context, demo);
    demo.provider.faults.set({ mode: 'lose-response', count: 1 });
    await page.waitForTimeout(3_300);

    const startedAt = Date.now();
    const replies = await Promise.all([fetchReply(page, '/api/me'), fetchReply(other, '/api/me')]);
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    for (const reply of replies) expect(reply).toEqual({ status: 401, error: null });

    for (const tab of [page, other]) await expect(tab.locator('#status')).toHaveAttribute('data-status', 'login_required');
    // The lost rotation, then one retry with the spent token (by the worker, or by Chromium
    // itself on the reused connection), then nothing more: no loop.
    const arrivals = demo.provider.faults.arrivals.length;
    expect(arrivals).toBeGreaterThanOrEqual(2);
    expect(arrivals).toBeLessThanOrEqual(3);
    expect(demo.provider.counters.grantErrors.invalid_grant).toBe(1);
    await page.waitForTimeout(1_000);
    await fetchMany(page, '/api/me', 3);
    expect(demo.provider.faults.arrivals.length).toBe(arrivals);
  });
});

test.describe('lost refresh with reuse grace', () => {
  test.use({ demoOptions: { accessTokenTtlSeconds: 3, refreshReuseGraceSeconds: 10, guardian: { refreshLeewaySeconds: 0, providerTimeoutMs: 2000 } } });

  test('grace period recovers the session', async ({ page, demo }) => {
    await logIn(page, demo);
    demo.provider.faults.set({ mode: 'lose-response', count: 1 });
    await page.waitForTimeout(3_300);

    expect(await fetchMany(page, '/api/me', 2)).toEqual([200, 200]);
    expect(await authStatus(page)).toBe('authenticated');
    expect(demo.provider.counters.grantErrors).toEqual({});
  });
});

test.describe('tokens rejected by the resource', () => {
  test('fresh tokens rejected cause no loop', async ({ page, demo }) => {
    await logIn(page, demo);
    demo.api.setRejectAll(true);
    const recordsBefore = demo.api.records.length;

    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push(...(await fetchMany(page, '/api/me', 1)));
    expect(statuses).toEqual(Array(10).fill(401));
    // One refresh and one retry for the first request; the new token is rejected too, so the
    // other requests get the 401 at once.
    expect(demo.provider.counters.refreshGrants).toBe(1);
    expect(demo.api.records.length - recordsBefore).toBe(11);
    expect(await authStatus(page)).toBe('authenticated');
  });
});

test.describe('worker updates', () => {
  test.use({ demoOptions: { accessTokenTtlSeconds: 3, guardian: { refreshLeewaySeconds: 0 } } });

  test('update during a slow refresh', async ({ context, page, demo }) => {
    await logIn(page, demo);
    const other = await openTab(context, demo);
    demo.provider.faults.set({ mode: 'none', delayMs: 1_500 });
    await page.waitForTimeout(3_100);

    // Two tabs call the API every 200 ms while the first refresh is slowed down.
    const calling = [page, other].map((tab) =>
      tab.evaluate(async () => {
        const statuses: number[] = [];
        const until = Date.now() + 7_000;
        while (Date.now() < until) {
          void fetch('/api/me').then((response) => statuses.push(response.status), () => statuses.push(0));
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        await new Promise((resolve) => setTimeout(resolve, 4_000));
        return statuses;
      }),
    );

    // A byte-different worker version takes over while that refresh is in flight.
    await expect.poll(() => demo.provider.faults.arrivals.length, { timeout: 5_000 }).toBeGreaterThan(0);
    demo.workerConfig.requestEvents = false;
    const updated = await other.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      await registration.update();
      return registration.installing !== null || registration.waiting !== null || registration.active !== null;
    });
    expect(updated).toBe(true);

    const statuses = (await Promise.all(calling)).flat();
    expect(statuses.length).toBeGreaterThan(40);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(demo.provider.counters.grantErrors).toEqual({});
    // Each grant rotated the token once; no spent refresh token was ever presented again.
    expect(new Set(demo.provider.secrets.refreshTokens).size).toBe(demo.provider.secrets.refreshTokens.length);
    expect(await authStatus(page)).toBe('authenticated');
    expect(await authStatus(other)).toBe('authenticated');
  });
});

test('call after worker stop reconnects', async ({ page, demo }) => {
  await logIn(page, demo);
  await stopServiceWorkers(page);
  const startedAt = Date.now();
  expect(await authStatus(page)).toBe('authenticated');
  expect(Date.now() - startedAt).toBeLessThan(3_000);
});

test('unanswered call rejects with timeout', async ({ page, demo }) => {
  // A worker that never responds: registered in its own scope, without the guardian.
  await page.goto(`${demo.appUrl}/plain/`);
  const outcome = await page.evaluate(async () => {
    const client = (await import('/client.js' as string)) as typeof import('../client/index.ts');
    const guardian = await client.connectTokenGuardian({ scriptUrl: '/plain-sw.js', scope: '/plain/', timeoutMs: 1_500 });
    const startedAt = Date.now();
    try {
      await guardian.getAuthState();
      return { settled: 'resolved', ms: Date.now() - startedAt };
    } catch (error) {
      return { settled: (error as { code?: string }).code, name: (error as Error).name, ms: Date.now() - startedAt };
    }
  });
  expect(outcome.settled).toBe('timeout');
  expect(outcome.name).toBe('GuardianError');
  expect(outcome.ms).toBeGreaterThanOrEqual(1_400);
  expect(outcome.ms).toBeLessThan(3_000);
});

test.describe('registration mistakes', () => {
  // An empty worker script in a folder, for a scope wider than that folder.
  const extraRoutes = (path: string, _request: unknown, response: import('node:http').ServerResponse) => {
    if (path !== '/plain/sw.js') return false;
    response.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' });
    response.end('');
    return true;
  };
  test.use({ demoOptions: { extraRoutes } });

  test('registration mistakes name the fix', async ({ page, demo }) => {
    await page.goto(`${demo.appUrl}/plain/`);
    const connect = (scriptUrl: string, scope?: string) =>
      page.evaluate(
        async ({ scriptUrl, scope }) => {
          const client = (await import('/client.js' as string)) as typeof import('../client/index.ts');
          try {
            await client.connectTokenGuardian({ scriptUrl, timeoutMs: 3_000, ...(scope === undefined ? {} : { scope }) });
            return 'connected';
          } catch (error) {
            return `${(error as { code?: string }).code}: ${(error as Error).message}`;
          }
        },
        { scriptUrl, scope },
      );

    // An HTML page where the worker script should be.
    const html = await connect('/plain/', '/plain/');
    expect(html).toMatch(/^registration_failed: /);
    expect(html).toContain('Content-Type: text/javascript');
    // A scope wider than the script's folder.
    const scope = await connect('/plain/sw.js', '/');
    expect(scope).toMatch(/^registration_failed: /);
    expect(scope).toContain('Service-Worker-Allowed');
    // A script that does not exist.
    const missing = await connect('/plain/missing-sw.js', '/plain/');
    expect(missing).toMatch(/^registration_failed: /);
    expect(missing).toContain('check that "/plain/missing-sw.js" serves the worker script');
  });
});

test('typed error crosses the channel', async ({ page, demo }) => {
  demo.provider.faults.set({ mode: 'none' });
  await page.goto(demo.appUrl);
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'unauthenticated');
  await page.evaluate(() => navigator.serviceWorker.ready);
  await stopServiceWorkers(page);
  // With discovery failing, login() rejects with the worker's typed error.
  await demo.close();
  const error = await page.evaluate(async () => {
    const guardian = (window as unknown as { demoGuardian: { login(): Promise<void> } }).demoGuardian;
    try {
      await guardian.login();
      return null;
    } catch (thrown) {
      return { name: (thrown as Error).name, code: (thrown as { code?: string }).code, message: (thrown as Error).message };
    }
  });
  expect(error?.name).toBe('GuardianError');
  expect(error?.code).toBe('discovery_failed');
  expect(error?.message).toContain('discovery at');
  // The auth state carries it as the last error, and the page shows it.
  expect(await page.evaluate(async () => (await (window as unknown as { demoGuardian: { getAuthState(): Promise<{ error: { code: string } | null }> } }).demoGuardian.getAuthState()).error?.code)).toBe('discovery_failed');
  await expect(page.locator('#error')).toContainText('discovery_failed');
});

test('hard reload takes control again', async ({ page, demo }) => {
  skipUnlessChromium(page, 'a hard reload');
  await logIn(page, demo);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Page.reload', { ignoreCache: true });
  await page.waitForLoadState('load');

  await expect(page.locator('#status')).toHaveAttribute('data-status', 'authenticated');
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
  expect(await fetchMany(page, '/api/me', 2)).toEqual([200, 200]);
  expect(demo.api.records.at(-1)?.scheme).toBe('DPoP');
  expect(demo.provider.counters.refreshGrants).toBe(0);
});

test.describe('blocked service workers', () => {
  test.use({ serviceWorkers: 'block' });

  test('connect rejects with unsupported', async ({ page, demo }) => {
    await page.goto(demo.appUrl);
    await expect(page.locator('#status')).toContainText('not connected (unsupported)');
    const storage = await page.evaluate(async () => ({
      local: localStorage.length,
      session: sessionStorage.length,
      databases: (await indexedDB.databases()).length,
      cookies: document.cookie,
    }));
    expect(storage).toEqual({ local: 0, session: 0, databases: 0, cookies: '' });
  });
});
