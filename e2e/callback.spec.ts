import { expect, fetchMany, logIn, openApp, test } from './fixtures.ts';

test('callback with unknown state keeps session', async ({ page, demo }) => {
  await logIn(page, demo);
  const grantsBefore = demo.provider.counters.authorizationCodeGrants;

  await page.goto(`${demo.appUrl}/callback?code=forged-code&state=forged-state`);
  await page.waitForURL(`${demo.appUrl}/`);
  await expect(page.locator('#error')).toContainText('invalid_state');
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'authenticated');
  expect(demo.provider.counters.authorizationCodeGrants).toBe(grantsBefore);
  expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
});

test('replayed callback is refused', async ({ page, demo }) => {
  const callbacks: string[] = [];
  page.on('request', (request) => {
    if (request.url().startsWith(`${demo.appUrl}/callback`)) callbacks.push(request.url());
  });
  await logIn(page, demo);
  expect(callbacks).toHaveLength(1);

  await page.goto(callbacks[0]!);
  await page.waitForURL(`${demo.appUrl}/`);
  await expect(page.locator('#error')).toContainText('invalid_state');
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'authenticated');
  expect(demo.provider.counters.authorizationCodeGrants).toBe(1);
  expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
});

test('access_denied keeps session', async ({ context, page, demo }) => {
  await logIn(page, demo);
  const tokensBefore = demo.provider.secrets.accessTokens.length;

  // A second login that the user cancels at the provider. Without the provider's session
  // cookie, the provider shows its login page again instead of signing in silently.
  await context.clearCookies({ domain: '127.0.0.1' });
  await page.evaluate(() => (window as unknown as { demoGuardian: { login(): Promise<void> } }).demoGuardian.login());
  await page.waitForURL(`${demo.issuer}/interaction/**`);
  await page.click('#cancel');
  await page.waitForURL(`${demo.appUrl}/`);

  await expect(page.locator('#error')).toContainText('authorization_error');
  await expect(page.locator('#error')).toContainText('access_denied');
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'authenticated');
  expect(demo.provider.secrets.accessTokens).toHaveLength(tokensBefore);
  expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
});

test('access_denied without a session', async ({ page, demo }) => {
  await openApp(page, demo);
  await page.click('#login');
  await page.waitForURL(`${demo.issuer}/interaction/**`);
  await page.click('#cancel');
  await page.waitForURL(`${demo.appUrl}/`);

  await expect(page.locator('#status')).toHaveAttribute('data-status', 'unauthenticated');
  await expect(page.locator('#error')).toContainText('access_denied');
  expect(demo.provider.counters.authorizationCodeGrants).toBe(0);
});
