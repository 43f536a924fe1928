// Shared fixtures: a fresh demo (provider, app, API) per test, and helpers that act as a user.
import { test as base, expect, type BrowserContext, type Page } from '@playwright/test';
import { startDemo, type DemoOptions, type DemoServers } from '../demo/server.ts';

export interface Fixtures {
  demoOptions: DemoOptions;
  demo: DemoServers;
}

export const test = base.extend<Fixtures>({
  demoOptions: [{}, { option: true }],
  demo: async ({ demoOptions }, use) => {
    const servers = await startDemo(demoOptions);
    await use(servers);
    await servers.close();
  },
});

export { expect };

/** Opens the demo app and waits until the guardian is connected and reports a state. */
export async function openApp(page: Page, demo: DemoServers, path = '/'): Promise<void> {
  await page.goto(`${demo.appUrl}${path}`);
  await expect(page.locator('#status')).toHaveAttribute('data-status', /.+/);
}

/** Logs in through the provider's login page as a user would, and waits for the authenticated state. */
export async function logIn(page: Page, demo: DemoServers, user = 'alice', password = 'wonderland'): Promise<void> {
  await openApp(page, demo);
  await page.click('#login');
  await page.waitForURL(`${demo.issuer}/interaction/**`);
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await page.click('#sign-in');
  await page.waitForURL(`${demo.appUrl}/**`);
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'authenticated');
}

/** Opens another tab of the same app in the same browser context. */
export async function openTab(context: BrowserContext, demo: DemoServers): Promise<Page> {
  const page = await context.newPage();
  await openApp(page, demo);
  return page;
}

/** Fires `count` parallel fetches from the page and returns their statuses. */
export function fetchMany(page: Page, path: string, count: number): Promise<number[]> {
  return page.evaluate(
    async ({ path, count }) => {
      const responses = await Promise.all(Array.from({ length: count }, () => fetch(path)));
      return responses.map((response) => response.status);
    },
    { path, count },
  );
}

/**
 * Stops every service worker of the browser through the DevTools protocol. Chromium does not
 * stop idle workers by itself while Playwright is attached.
 */
export async function stopServiceWorkers(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.stopAllWorkers');
  await cdp.detach();
}

/** Reads the guardian's auth state from the page's guardian handle. */
export function authStatus(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const guardian = (window as unknown as { demoGuardian: { getAuthState(): Promise<{ status: string }> } }).demoGuardian;
    return (await guardian.getAuthState()).status;
  });
}
