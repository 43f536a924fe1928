import { expect, fetchMany, logIn, test } from './fixtures.ts';

test('other origin gets no credentials', async ({ page, demo }) => {
  await logIn(page, demo);

  const status = await page.evaluate(async (origin) => (await fetch(`${origin}/hello`)).status, demo.otherOrigin);
  expect(status).toBe(200);
  expect(demo.otherRecords).toEqual([{ path: '/hello', authorized: false }]);
});

test('look-alike paths get no credentials', async ({ page, demo }) => {
  await logIn(page, demo);
  const recordsBefore = demo.api.records.length;

  // /apix shares the string prefix "/api" but not the path segment.
  const statuses = await page.evaluate(async () => Promise.all(['/apix', '/api', '/api/x'].map(async (path) => (await fetch(path)).status)));
  expect(statuses).toEqual([404, 200, 200]);
  // The requests ran in parallel, so they arrive in any order.
  const arrived = demo.api.records.slice(recordsBefore).map((record) => [record.path, record.authorized]);
  expect(arrived.sort()).toEqual([
    ['/api', true],
    ['/api/x', true],
  ]);
});

test('page cannot call the token endpoint', async ({ page, demo }) => {
  await logIn(page, demo);
  const refreshToken = demo.provider.secrets.refreshTokens.at(-1)!;
  const grantsBefore = demo.provider.counters.refreshGrants;

  const response = await page.evaluate(
    async ({ issuer, refreshToken, clientId }) => {
      const reply = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
      });
      return { status: reply.status, body: await reply.text() };
    },
    { issuer: demo.issuer, refreshToken, clientId: demo.clientId },
  );

  expect(response.status).toBe(403);
  expect(response.body).toContain('pages may not call the token endpoint');
  expect(demo.provider.counters.refreshGrants).toBe(grantsBefore);
  expect(demo.provider.counters.grantErrors).toEqual({});
  expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
});

test('redirect elsewhere drops credentials', async ({ page, demo }) => {
  await logIn(page, demo);
  const target = `${demo.otherOrigin}/after-redirect`;

  const status = await page.evaluate(async (to) => (await fetch(`/api/redirect?to=${encodeURIComponent(to)}`)).status, target);
  expect(status).toBe(200);
  expect(demo.api.records.at(-1)?.status).toBe(302);
  // The browser follows the redirect and removes Authorization on the way to the other origin.
  expect(demo.otherRecords).toEqual([{ path: '/after-redirect', authorized: false }]);
});

test('resource on the provider origin gets credentials', async ({ page, demo }) => {
  demo.workerConfig.resources = [demo.apiUrl, `${demo.issuer}/echo`];
  await logIn(page, demo);

  const statuses = await page.evaluate(async (base) => {
    const get = await fetch(`${base}/echo/get`);
    const post = await fetch(`${base}/echo/post`, { method: 'POST', body: 'x' });
    return [get.status, post.status];
  }, demo.issuer);
  expect(statuses).toEqual([200, 200]);
  expect(demo.issuerEchoRecords).toEqual([
    { path: '/echo/get', authorized: true },
    { path: '/echo/post', authorized: true },
  ]);
});
