// Two APIs with their own audiences: the orders API on the app's origin and the reports API on
// another origin behind CORS. Each gets its own token from the one refresh token.
import type { Page } from '@playwright/test';
import { expect, fetchMany, logIn, openTab, test } from './fixtures.ts';

interface RequestEventSeen {
  path: string;
  outcome: string;
  error?: { code: string; message: string };
}

/** Starts collecting the guardian's request events in the page. */
async function collectRequestEvents(page: Page): Promise<void> {
  await page.evaluate(() => {
    const events: unknown[] = [];
    (window as unknown as { requestEvents: unknown[] }).requestEvents = events;
    const guardian = (window as unknown as { demoGuardian: { subscribe(listener: (event: { type: string }) => void): void } }).demoGuardian;
    guardian.subscribe((event) => {
      if (event.type === 'request') events.push(event);
    });
  });
}

function requestEvents(page: Page): Promise<RequestEventSeen[]> {
  return page.evaluate(() => (window as unknown as { requestEvents: RequestEventSeen[] }).requestEvents);
}

test('each API receives only tokens for its own audience', async ({ page, demo }) => {
  await logIn(page, demo);
  const grantsAfterLogin = demo.provider.counters.refreshGrants;

  const reports = await page.evaluate(async (url) => {
    const response = await fetch(`${url}/summary`);
    return { status: response.status, body: (await response.json()) as { scope?: string; boundToKey?: boolean } };
  }, demo.reportsUrl);
  expect(reports.status).toBe(200);
  expect(reports.body.scope).toBe('reports:read');
  expect(reports.body.boundToKey).toBe(true);
  // The reports token came from the refresh token, at its first use.
  expect(demo.provider.counters.refreshGrants - grantsAfterLogin).toBe(1);

  expect(await fetchMany(page, '/api/me', 3)).toEqual([200, 200, 200]);
  expect(await fetchMany(page, `${demo.reportsUrl}/summary`, 3)).toEqual([200, 200, 200]);
  expect(demo.provider.counters.refreshGrants - grantsAfterLogin).toBe(1);

  expect(demo.api.records.map((record) => record.tokenAudience)).toEqual(Array(3).fill(demo.apiUrl));
  expect(demo.reportsApi.records.map((record) => record.tokenAudience)).toEqual(Array(4).fill(demo.reportsUrl));
  expect(new Set(demo.reportsApi.records.map((record) => record.tokenId)).size).toBe(1);
  expect(demo.reportsApi.preflights).toBeGreaterThan(0);
  expect(demo.provider.counters.grantErrors).toEqual({});
});

test('a 401 from one API renews only that API’s token', async ({ context, page, demo }) => {
  await logIn(page, demo);
  const other = await openTab(context, demo);
  expect(await fetchMany(page, `${demo.reportsUrl}/summary`, 1)).toEqual([200]);
  expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
  const ordersToken = demo.api.records.at(-1)!.tokenId;
  const grantsBefore = demo.provider.counters.refreshGrants;

  demo.reportsApi.rejectSeenTokens();
  const statuses = (await Promise.all([page, other].map((tab) => fetchMany(tab, `${demo.reportsUrl}/summary`, 15)))).flat();
  expect(statuses).toEqual(Array(30).fill(200));
  expect(demo.provider.counters.refreshGrants - grantsBefore).toBe(1);

  // The orders API still gets the token it had.
  expect(await fetchMany(page, '/api/me', 2)).toEqual([200, 200]);
  expect(demo.api.records.slice(-2).map((record) => record.tokenId)).toEqual([ordersToken, ordersToken]);
  expect(demo.provider.counters.refreshGrants - grantsBefore).toBe(1);
  expect(demo.provider.counters.grantErrors).toEqual({});
});

test.describe('expired tokens of both APIs', () => {
  test.use({ demoOptions: { accessTokenTtlSeconds: 6, guardian: { refreshLeewaySeconds: 0 } } });

  test('two tabs, two APIs: one refresh per API, no spent refresh token', async ({ context, page, demo }) => {
    await logIn(page, demo);
    const other = await openTab(context, demo);
    expect(await fetchMany(page, `${demo.reportsUrl}/summary`, 1)).toEqual([200]);

    await page.waitForTimeout(6_500);
    const grantsBefore = demo.provider.counters.refreshGrants;
    const statuses = (
      await Promise.all(
        [page, other].flatMap((tab) => [fetchMany(tab, '/api/items', 10), fetchMany(tab, `${demo.reportsUrl}/items`, 10)]),
      )
    ).flat();

    expect(statuses).toEqual(Array(40).fill(200));
    // Two refreshes, one after the other, each presenting the refresh token the previous one returned.
    expect(demo.provider.counters.refreshGrants - grantsBefore).toBe(2);
    expect(demo.provider.counters.grantErrors).toEqual({});
    expect(demo.provider.counters.grantsRevoked).toBe(0);
    expect(demo.api.records.every((record) => record.tokenAudience === demo.apiUrl)).toBe(true);
    expect(demo.reportsApi.records.every((record) => record.tokenAudience === demo.reportsUrl)).toBe(true);
  });
});

test('a refused CORS preflight gives a clear error, no refresh and no logout', async ({ page, demo }) => {
  await logIn(page, demo);
  expect(await fetchMany(page, `${demo.reportsUrl}/summary`, 1)).toEqual([200]);
  await collectRequestEvents(page);
  const grantsBefore = demo.provider.counters.refreshGrants;
  const recordsBefore = demo.reportsApi.records.length;

  // The reports API stops allowing the Authorization and DPoP headers from the app's origin.
  demo.reportsApi.setCorsAllowedHeaders(['Content-Type']);
  const outcome = await page.evaluate(async (url) => {
    try {
      return `status ${(await fetch(`${url}/summary`)).status}`;
    } catch (error) {
      return `rejected: ${(error as Error).name}`;
    }
  }, demo.reportsUrl);
  expect(outcome).toBe('rejected: TypeError');

  await expect.poll(async () => (await requestEvents(page)).filter((event) => event.outcome === 'failed')).toHaveLength(1);
  const [failed] = (await requestEvents(page)).filter((event) => event.outcome === 'failed');
  expect(failed!.path).toBe('/reports/summary');
  expect(failed!.error?.code).toBe('resource_unreachable');
  expect(failed!.error?.message).toContain('Access-Control-Allow-Headers listing Authorization and DPoP');
  expect(failed!.error?.message).toContain(demo.appUrl);
  // The demo page shows that reason where it shows errors.
  await expect(page.locator('#error')).toContainText('resource_unreachable: sw-token-guardian: GET');

  // Pressed as a user would, the button reports that no response came, and points to the reason.
  await page.click('#call-reports');
  await expect(page.locator('#result')).toContainText('/reports/summary: no response');

  // The preflight failed, so the request never reached the API, and nothing changed in the session.
  expect(demo.reportsApi.records.length).toBe(recordsBefore);
  expect(demo.provider.counters.refreshGrants).toBe(grantsBefore);
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'authenticated');
  expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);

  demo.reportsApi.setCorsAllowedHeaders(['Authorization', 'DPoP']);
  expect(await fetchMany(page, `${demo.reportsUrl}/summary`, 1)).toEqual([200]);
  expect(demo.provider.counters.refreshGrants).toBe(grantsBefore);
});

test.describe('without request events', () => {
  test.use({ demoOptions: { guardian: { requestEvents: false } } });

  test('a failed request still sends its event', async ({ page, demo }) => {
    await logIn(page, demo);
    await collectRequestEvents(page);
    expect(await fetchMany(page, '/api/me', 2)).toEqual([200, 200]);

    demo.reportsApi.setCorsAllowedHeaders(['Content-Type']);
    await page.click('#call-reports');
    await expect(page.locator('#error')).toContainText('resource_unreachable');
    // Only the failure was sent: successful requests send no event without requestEvents.
    expect((await requestEvents(page)).map((event) => event.outcome)).toEqual(['failed']);
  });
});
