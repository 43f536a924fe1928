import { expect, logIn, test } from './fixtures.ts';

test('login shows user claims', async ({ page, demo }) => {
  await logIn(page, demo);

  await expect(page.locator('#user')).toHaveText('Alice Liddell <alice@example.com>');
  expect(new URL(page.url()).pathname).toBe('/');
  expect(demo.provider.counters.authorizationCodeGrants).toBe(1);

  const status = await page.evaluate(async () => (await fetch('/api/me')).status);
  expect(status).toBe(200);
  expect(demo.api.records.at(-1)?.authorized).toBe(true);
});
