import { expect, fetchMany, logIn, logOutThroughProvider, openTab, test } from './fixtures.ts';

test('logout ends the session in every tab', async ({ context, page, demo }) => {
  await logIn(page, demo);
  const other = await openTab(context, demo);
  await expect(other.locator('#status')).toHaveAttribute('data-status', 'authenticated');
  const refreshToken = demo.provider.secrets.refreshTokens.at(-1)!;

  // The worker sends this tab through the provider's end-session endpoint and back to the app.
  await logOutThroughProvider(page, demo, () => page.click('#logout'));
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'unauthenticated');
  await expect(other.locator('#status')).toHaveAttribute('data-status', 'unauthenticated');
  expect(demo.provider.counters.revocations).toBe(1);

  // The refresh token is dead upstream, not just forgotten here.
  const reuse = await fetch(`${demo.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: demo.clientId }),
  });
  expect(reuse.status).toBe(400);
  expect(((await reuse.json()) as { error: string }).error).toBe('invalid_grant');

  // Requests after logout go out without credentials.
  const recordsBefore = demo.api.records.length;
  expect(await fetchMany(other, '/api/me', 2)).toEqual([401, 401]);
  expect(demo.api.records.slice(recordsBefore).map((record) => record.authorized)).toEqual([false, false]);
});

test('login after logout starts a new session', async ({ page, demo }) => {
  await logIn(page, demo);
  await logOutThroughProvider(page, demo, () => page.click('#logout'));
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'unauthenticated');

  await logIn(page, demo, 'bob', 'builder');
  await expect(page.locator('#user')).toHaveText('Bob Builder <bob@example.com>');
  expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
});

test.describe('logout during refresh', () => {
  test.use({ demoOptions: { accessTokenTtlSeconds: 3, guardian: { refreshLeewaySeconds: 0 } } });

  test('late refresh result is discarded', async ({ page, demo }) => {
    await logIn(page, demo);
    // The provider rotates at once but responds 1.5 s later, so the logout comes in between.
    demo.provider.faults.set({ mode: 'none', responseDelayMs: 1_500 });
    await page.waitForTimeout(3_300);

    // The request in flight settles, with its response or because the page navigated away.
    const pending = fetchMany(page, '/api/me', 1).catch(() => ['navigated']);
    await expect.poll(() => demo.provider.counters.refreshGrants).toBe(1);
    // The provider's session ends in the logout navigation; the worker's session ends at once.
    await logOutThroughProvider(page, demo, () =>
      page.evaluate(() => (window as unknown as { demoGuardian: { logout(): Promise<unknown> } }).demoGuardian.logout()),
    );
    expect(await pending).toHaveLength(1);

    await expect(page.locator('#status')).toHaveAttribute('data-status', 'unauthenticated');
    await expect.poll(() => demo.provider.counters.refreshGrants).toBe(1);
    // The rotated refresh token that arrived after logout was revoked, not kept.
    await expect.poll(() => demo.provider.counters.revocations).toBe(2);
    const stored = await page.evaluate(async () => {
      const request = indexedDB.open('sw-token-guardian');
      const database = await new Promise<IDBDatabase>((resolve) => (request.onsuccess = () => resolve(request.result)));
      const all = database.transaction('keyval').objectStore('keyval').getAllKeys();
      const keys = await new Promise<IDBValidKey[]>((resolve) => (all.onsuccess = () => resolve(all.result)));
      database.close();
      return keys;
    });
    expect(stored).not.toContain('session');
    expect(stored).not.toContain('session-dpop-key');
    expect(await fetchMany(page, '/api/me', 1)).toEqual([401]);
  });
});
