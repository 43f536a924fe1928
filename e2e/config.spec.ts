import { expect, fetchMany, logIn, openApp, test } from './fixtures.ts';

test('invalid config fails registration', async ({ page, demo }) => {
  demo.workerConfig.resources = ['api.example.com/v1'];

  await page.goto(demo.appUrl);
  await expect(page.locator('#status')).toContainText('not connected');
  await expect(page.locator('#status')).toContainText('registering "/sw.js" failed');
  const registrations = await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).length);
  expect(registrations).toBe(0);
});

test('invalid config in an update keeps the session', async ({ page, demo }) => {
  await logIn(page, demo);
  demo.workerConfig.issuer = 'http://login.example.test';

  const update = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    try {
      await registration.update();
      return 'updated';
    } catch (error) {
      return (error as Error).name;
    }
  });
  expect(update).toBe('TypeError');

  await openApp(page, demo);
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'authenticated');
  expect(await fetchMany(page, '/api/me', 1)).toEqual([200]);
});
