// Shared fixtures: a fresh demo (provider, app, API) per test, and helpers that act as a user.
import { test as base, expect, type BrowserContext, type Frame, type Page } from '@playwright/test';
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
  await page.waitForURL(`${demo.issuer}/interaction/**`, { timeout: 20_000 }).catch(async (error: unknown) => {
    throw new Error(`login did not reach the provider; the page shows the error "${await page.locator('#error').textContent()}"`, { cause: error });
  });
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await page.click('#sign-in');
  await page.waitForURL(`${demo.appUrl}/**`);
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'authenticated');
}

/**
 * Runs `action`, which starts a logout, and waits until the worker has sent the tab through the
 * provider's end-session endpoint and the app has loaded again. The tab is already on the app
 * when the logout starts, so waiting for the app's URL alone would return at once.
 */
export async function logOutThroughProvider(page: Page, demo: DemoServers, action: () => Promise<unknown>): Promise<void> {
  let sawEndSession = false;
  let onNavigated: (frame: Frame) => void = () => undefined;
  const backOnApp = new Promise<void>((resolve) => {
    onNavigated = (frame) => {
      if (frame !== page.mainFrame()) return;
      if (frame.url().startsWith(`${demo.issuer}/session/end`)) sawEndSession = true;
      else if (sawEndSession && frame.url().startsWith(`${demo.appUrl}/`)) resolve();
    };
    page.on('framenavigated', onNavigated);
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`logout did not come back to the app through the end-session endpoint within 20 s; the tab is on ${page.url()}`)), 20_000);
  });
  try {
    await action();
    await Promise.race([backOnApp, timedOut]);
  } finally {
    clearTimeout(timer);
    page.off('framenavigated', onNavigated);
  }
  await expect(page.locator('#status')).toHaveAttribute('data-status', /.+/);
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

/** Skips the running test outside Chromium, because `step` needs the Chromium DevTools protocol. */
export function skipUnlessChromium(page: Page, step: string): void {
  const browserName = page.context().browser()?.browserType().name() ?? 'this browser';
  test.skip(browserName !== 'chromium', `${step} needs the Chromium DevTools protocol, which ${browserName} lacks`);
}

/**
 * Stops every service worker of the browser through the DevTools protocol. Chromium does not
 * stop idle workers by itself while Playwright is attached.
 */
export async function stopServiceWorkers(page: Page): Promise<void> {
  skipUnlessChromium(page, 'stopping a service worker');
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
