// The demo with its Workbox worker (demo/workbox-sw.ts): Workbox routes requests to the API to
// guardian.handler, caches /static/ files, and routes every navigation through NetworkFirst.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Page } from '@playwright/test';
import type { DemoOptions } from '../demo/server.ts';
import { test as demoTest, expect, fetchMany, logIn, openApp, openTab, stopServiceWorkers } from './fixtures.ts';

interface AppRequest {
  method: string;
  path: string;
  authorization: string | null;
  trace: string | null;
}

const stylesheet = 'body { color: #1d2330; }\n';

/**
 * Serves and records the app server's paths that the demo leaves to extra routes: a stylesheet
 * under /static/, look-alike paths under /apix, and the login callback when it reaches the server.
 */
class AppRequestLog {
  readonly requests: AppRequest[] = [];

  count(path: string): number {
    return this.requests.filter((request) => request.path === path).length;
  }

  find(path: string): AppRequest | undefined {
    return this.requests.find((request) => request.path === path);
  }

  readonly route = (path: string, req: IncomingMessage, res: ServerResponse): boolean => {
    const header = (name: string) => {
      const value = req.headers[name];
      return typeof value === 'string' ? value : null;
    };
    this.requests.push({ method: req.method ?? 'GET', path, authorization: header('authorization'), trace: header('x-trace') });

    if (path === '/static/theme.css') {
      // no-store keeps the browser's HTTP cache out, so only the worker's cache can spare a request.
      res.writeHead(200, { 'content-type': 'text/css', 'cache-control': 'no-store' });
      res.end(stylesheet);
      return true;
    }
    if (path.startsWith('/apix')) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ path }));
      return true;
    }
    return false;
  };
}

const test = demoTest.extend<{ appRequests: AppRequestLog; workboxDemo: DemoOptions }>({
  workboxDemo: [{}, { option: true }],
  appRequests: async ({}, use) => {
    await use(new AppRequestLog());
  },
  demoOptions: async ({ workboxDemo, appRequests }, use) => {
    await use({ ...workboxDemo, workerScript: 'workbox-sw.js', extraRoutes: appRequests.route });
  },
});

function loadStylesheet(page: Page): Promise<{ status: number; text: string }> {
  return page.evaluate(async () => {
    const response = await fetch('/static/theme.css');
    return { status: response.status, text: await response.text() };
  });
}

function cachedPaths(page: Page, cacheName: string): Promise<string[]> {
  return page.evaluate(async (name) => {
    const cache = await caches.open(name);
    return (await cache.keys()).map((request) => new URL(request.url).pathname);
  }, cacheName);
}

test('API calls through Workbox carry credentials', async ({ page, demo }) => {
  await logIn(page, demo);
  const recordsBefore = demo.api.records.length;

  expect(await fetchMany(page, '/api/me', 3)).toEqual([200, 200, 200]);

  const arrived = demo.api.records.slice(recordsBefore);
  expect(arrived).toHaveLength(3);
  for (const record of arrived) {
    expect(record.authorized).toBe(true);
    expect(record.scheme).toBe('DPoP');
    expect(record.status).toBe(200);
  }
  // The handler sends request events as the guardian's own listener does.
  await expect(page.locator('#log li.attached').first()).toContainText('GET /api/me attached');
});

test('callback bypasses the navigation route', async ({ page, demo, appRequests }) => {
  await logIn(page, demo);

  expect(demo.provider.counters.authorizationCodeGrants).toBe(1);
  // Had Workbox's navigation route run for the callback, it would have fetched the URL, code
  // included, from the server.
  expect(appRequests.count('/callback')).toBe(0);
  // The navigation route is live: it cached the page the login returned to.
  const pages = await cachedPaths(page, 'demo-pages');
  expect(pages).toContain('/');
  expect(pages).not.toContain('/callback');
});

test('POST body is retried through the handler', async ({ page, demo }) => {
  await logIn(page, demo);
  expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
  demo.api.rejectSeenTokens();

  const body = JSON.stringify({ note: 'routed by Workbox', items: Array.from({ length: 50 }, (_, i) => i) });
  const status = await page.evaluate(async (text) => {
    const reply = await fetch('/api/notes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
    return reply.status;
  }, body);

  const expectedSha = createHash('sha256').update(body).digest('hex');
  expect(status).toBe(200);
  const attempts = demo.api.records.filter((record) => record.path === '/api/notes');
  expect(attempts.map((record) => record.status)).toEqual([401, 200]);
  expect(attempts.map((record) => record.bodySha256)).toEqual([expectedSha, expectedSha]);
  expect(demo.provider.counters.refreshGrants).toBe(1);
});

test('parallel 401s in two tabs share one refresh', async ({ context, page, demo }) => {
  await logIn(page, demo);
  const tabs = [page, await openTab(context, demo)];
  expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);

  demo.api.rejectSeenTokens();
  const grantsBefore = demo.provider.counters.refreshGrants;
  const recordsBefore = demo.api.records.length;
  const statuses = (await Promise.all(tabs.map((tab) => fetchMany(tab, '/api/items', 20)))).flat();

  expect(statuses).toHaveLength(40);
  expect(statuses.filter((status) => status === 200)).toHaveLength(40);
  expect(demo.provider.counters.refreshGrants - grantsBefore).toBe(1);
  expect(demo.provider.counters.grantErrors).toEqual({});
  const arrived = demo.api.records.slice(recordsBefore);
  expect(arrived.filter((record) => record.status === 200)).toHaveLength(40);
  expect(arrived.length).toBeLessThanOrEqual(80);
  for (const tab of tabs) {
    await expect(tab.locator('#log li.retried').first()).toContainText('GET /api/items retried');
    await expect(tab.locator('#log li.refresh').filter({ hasText: 'succeeded' })).toHaveCount(1);
  }
});

test.describe('expired tokens', () => {
  // Long enough that the refreshed token outlives the burst on a loaded 2-core machine.
  test.use({ workboxDemo: { accessTokenTtlSeconds: 6, guardian: { refreshLeewaySeconds: 0 } } });

  test('requests after expiry in two tabs share one refresh', async ({ context, page, demo }) => {
    await logIn(page, demo);
    const tabs = [page, await openTab(context, demo)];

    await page.waitForTimeout(6_500);
    const grantsBefore = demo.provider.counters.refreshGrants;
    const recordsBefore = demo.api.records.length;
    const statuses = (await Promise.all(tabs.map((tab) => fetchMany(tab, '/api/items', 20)))).flat();

    expect(statuses.filter((status) => status === 200)).toHaveLength(40);
    expect(demo.provider.counters.refreshGrants - grantsBefore).toBe(1);
    // The handler waited for the refresh instead of sending the expired token first.
    const arrived = demo.api.records.slice(recordsBefore);
    expect(arrived).toHaveLength(40);
    expect(arrived.filter((record) => record.status === 401)).toHaveLength(0);
  });
});

test('static files come from the cache', async ({ page, demo, appRequests }) => {
  await openApp(page, demo);

  expect(await loadStylesheet(page)).toEqual({ status: 200, text: stylesheet });
  expect(appRequests.count('/static/theme.css')).toBe(1);
  // CacheFirst stores the response after responding, so the next load waits for the entry.
  await expect.poll(() => cachedPaths(page, 'demo-static')).toContain('/static/theme.css');

  expect(await loadStylesheet(page)).toEqual({ status: 200, text: stylesheet });
  await stopServiceWorkers(page);
  expect(await loadStylesheet(page)).toEqual({ status: 200, text: stylesheet });
  expect(appRequests.count('/static/theme.css')).toBe(1);
});

test('look-alike path gets no credentials', async ({ page, demo, appRequests }) => {
  await logIn(page, demo);

  // demo/workbox-sw.ts routes every path starting with "/api" to the handler, /apix included.
  const statuses = await page.evaluate(async () => {
    const plain = await fetch('/apix/report', { headers: { 'x-trace': 'look-alike' } });
    const own = await fetch('/apix/own', { headers: { authorization: 'Basic cGFnZTpvd24=' } });
    return [plain.status, own.status];
  });

  expect(statuses).toEqual([200, 200]);
  expect(appRequests.find('/apix/report')).toEqual({ method: 'GET', path: '/apix/report', authorization: null, trace: 'look-alike' });
  // Passed through untouched: the page's own header stays as the page set it.
  expect(appRequests.find('/apix/own')?.authorization).toBe('Basic cGFnZTpvd24=');
  expect(appRequests.count('/apix/report') + appRequests.count('/apix/own')).toBe(2);
});

test('listener leaves resources to routes', async ({ page, demo }) => {
  await logIn(page, demo);

  // demo/workbox-sw.ts registers no route for HEAD. With resourceRouting 'router', the guardian's
  // own listener leaves requests to resources alone, so this one goes out without credentials.
  const status = await page.evaluate(async () => (await fetch('/api/me', { method: 'HEAD' })).status);

  expect(status).toBe(401);
  expect(demo.api.records.at(-1)).toMatchObject({ method: 'HEAD', path: '/api/me', authorized: false });
});

test('token endpoint guard stays with the listener', async ({ page, demo }) => {
  await logIn(page, demo);
  const refreshToken = demo.provider.secrets.refreshTokens.at(-1)!;

  const status = await page.evaluate(
    async ({ issuer, refreshToken, clientId }) => {
      const reply = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
      });
      return reply.status;
    },
    { issuer: demo.issuer, refreshToken, clientId: demo.clientId },
  );

  expect(status).toBe(403);
  expect(demo.provider.counters.refreshGrants).toBe(0);
  expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
});
