import { defineConfig } from '@playwright/test';
import { findChromium } from './e2e/chromium.mjs';

const chromium = findChromium();

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
  ],
});
