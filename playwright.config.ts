import { existsSync } from 'node:fs';
import { defineConfig, firefox, webkit, type Project } from '@playwright/test';
import { findChromium } from './e2e/chromium.mjs';

const chromium = findChromium();

// Firefox and WebKit run the browser tests where Playwright's builds of them are installed.
// Specs that check the build and the package, not a browser, run once, in the Chromium project.
const browserIndependent = ['bundle-size.spec.ts', 'package.spec.ts'];
const otherBrowsers: Project[] = [];
for (const [name, browser] of [['firefox', firefox], ['webkit', webkit]] as const) {
  if (existsSync(browser.executablePath())) {
    otherBrowsers.push({ name: `e2e-${name}`, testDir: 'e2e', testMatch: '**/*.spec.ts', testIgnore: browserIndependent, use: { browserName: name, trace: 'retain-on-failure' } });
  } else if (process.env.TEST_WORKER_INDEX === undefined) {
    // Printed once, by the runner process, because worker processes load this file too.
    console.log(`${name}: not installed, so its e2e project is skipped; "npx playwright install ${name}" adds it where the network allows`);
  }
}

export default defineConfig({
  // The whole suite must stay well under 10 minutes on 2 cores.
  timeout: 60_000,
  expect: { timeout: 10_000 },
  // Two workers even on two cores: most test time is spent waiting for tokens to expire.
  workers: 2,
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  reporter: [['list'], ['./e2e/summary-reporter.ts']],
  projects: [
    {
      name: 'unit',
      testDir: '.',
      testMatch: ['sw/**/*.test.ts', 'client/**/*.test.ts'],
    },
    {
      name: 'e2e',
      testDir: 'e2e',
      testMatch: '**/*.spec.ts',
      use: {
        browserName: 'chromium',
        launchOptions: {
          ...(chromium === null ? {} : { executablePath: chromium.path }),
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
          ],
        },
        trace: 'retain-on-failure',
      },
    },
    ...otherBrowsers,
  ],
});
