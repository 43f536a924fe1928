// `npm run bench`: measures the guardian against its floor and against the usual in-page
// interceptor, in one Chromium run, and writes BENCHMARKS.md and bench-results.json.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from '@playwright/test';
import { startDemo, type DemoOptions, type DemoServers } from '../../demo/server.ts';
import { findChromium } from '../chromium.mjs';
import { comparedBundles, guardianBundles, measureBundles, type BundleSize } from './bundle-sizes.ts';
import {
  installPassThrough,
  logIn,
  newTabs,
  profileWorker,
  stats,
  stopServiceWorkers,
  timeRequests,
  workerHeapBytes,
  type ProfileEntry,
  type Stats,
} from './measure.ts';
import { writeReport } from './report.ts';
import { benchRoutes } from './routes.ts';

const rounds = 3;
const requestsPerRun = 2000;
const batchSize = 100;
// This file runs as dist/bench/run.js, beside the baseline bundle and next to dist/demo.
const baselineBundle = fileURLToPath(new URL('./baseline.js', import.meta.url));
const demoDist = fileURLToPath(new URL('../demo/', import.meta.url));

async function benchDemo(options: DemoOptions): Promise<DemoServers> {
  let issuer = '';
  const demo = await startDemo({
    ...options,
    distDir: demoDist,
    extraRoutes: benchRoutes(() => issuer, 'demo-app', baselineBundle),
    extraRedirectUris: ['/bench/baseline.html'],
  });
  issuer = demo.issuer;
  return demo;
}

export interface SetupLatency {
  setup: string;
  sequential: Stats;
  concurrent: Stats;
  /** Median of each round's median, sequential and concurrent. */
  roundMedians: { sequential: number[]; concurrent: number[] };
  assetPageLoad: Stats;
}

async function pageLoads(page: Page, url: string, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    await page.goto(url);
    await page.waitForFunction(() => (window as unknown as { loaded?: number }).loaded === 30);
    times.push(await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).loadEventEnd));
  }
  return times;
}

export interface WorkerProfile {
  setup: string;
  top: ProfileEntry[];
}

/** Per-request latency of small GETs with no worker, a pass-through worker, and the guardian, and CPU profiles of both workers. */
async function measureOverhead(browser: Browser): Promise<{ latency: SetupLatency[]; profiles: WorkerProfile[] }> {
  const bearerDemo = await benchDemo({ accessTokenTtlSeconds: 3600, guardian: { dpop: false, requestEvents: false } });
  try {
    const guardianContext = await browser.newContext();
    const guardianPage = await guardianContext.newPage();
    await logIn(guardianPage, bearerDemo);
    const token = bearerDemo.provider.secrets.accessTokens.at(-1)!;

    const nonePage = await (await browser.newContext()).newPage();
    await nonePage.goto(`${bearerDemo.appUrl}/bench/page.html`);
    const floorPage = await (await browser.newContext()).newPage();
    await installPassThrough(floorPage, bearerDemo);

    const setups = [
      { setup: 'no worker (page attaches the token)', page: nonePage, token: token as string | null, origin: bearerDemo.appUrl },
      { setup: 'pass-through worker (floor)', page: floorPage, token: token as string | null, origin: bearerDemo.appUrl, script: '/bench/passthrough-sw.js' },
      { setup: 'guardian, bearer', page: guardianPage, token: null, origin: bearerDemo.appUrl, script: '/sw.js' },
    ];
    const samples = setups.map(() => ({ sequential: [] as number[], concurrent: [] as number[], seqMedians: [] as number[], concMedians: [] as number[] }));
    for (let round = 0; round < rounds; round++) {
      // Rotating the order spreads warm-up and background noise over all set-ups.
      for (let offset = 0; offset < setups.length; offset++) {
        const index = (round + offset) % setups.length;
        const { page, token } = setups[index]!;
        const run = await timeRequests(page, '/api/bench', requestsPerRun, batchSize, token);
        const sample = samples[index]!;
        sample.sequential.push(...run.sequential);
        sample.concurrent.push(...run.concurrent);
        sample.seqMedians.push(stats(run.sequential).median);
        sample.concMedians.push(stats(run.concurrent).median);
      }
    }

    // Profiles come from separate runs, so the sampling does not slow down the timed ones.
    const profiles: WorkerProfile[] = [];
    for (const { setup, page, token, origin, script } of setups.slice(1)) {
      const top = await profileWorker(browser, `${origin}${script}`, () => timeRequests(page, '/api/bench', requestsPerRun, batchSize, token));
      profiles.push({ setup, top });
    }

    const results: SetupLatency[] = [];
    for (const [index, { setup, page, origin }] of setups.entries()) {
      const sample = samples[index]!;
      const loads = await pageLoads(page, `${origin}/bench/assets.html`, 10);
      results.push({
        setup,
        sequential: stats(sample.sequential),
        concurrent: stats(sample.concurrent),
        roundMedians: { sequential: sample.seqMedians, concurrent: sample.concMedians },
        assetPageLoad: stats(loads),
      });
    }
    return { latency: results, profiles };
  } finally {
    await bearerDemo.close();
  }
}

export interface StormResult {
  system: 'guardian' | 'in-page baseline';
  tabs: number;
  requestsPerTab: number;
  refreshGrants: number;
  succeeded: number;
  total: number;
  grantsRevoked: number;
  invalidGrant: number;
  settleMs: number;
}

async function storm(browser: Browser, system: StormResult['system'], tabs: number, requestsPerTab: number): Promise<StormResult> {
  // Bearer tokens on both sides, so the API does the same work per request for both systems.
  const demo = await benchDemo({ accessTokenTtlSeconds: 3600, guardian: { dpop: false, requestEvents: false } });
  const context = await browser.newContext();
  try {
    const first = await context.newPage();
    let pages: Page[];
    if (system === 'guardian') {
      await logIn(first, demo);
      pages = [first, ...(await newTabs(context, `${demo.appUrl}/`, tabs - 1, (tab) => tab.waitForSelector('#status[data-status="authenticated"]')))];
    } else {
      await first.goto(`${demo.appUrl}/bench/baseline.html`);
      await first.waitForSelector('html[data-ready]', { state: 'attached' });
      // The login navigates away, which may end the evaluation before it returns.
      await first.evaluate(() => (window as unknown as { baselineLogin(): Promise<void> }).baselineLogin()).catch(() => undefined);
      await first.waitForURL(`${demo.issuer}/interaction/**`);
      await first.fill('input[name=username]', 'alice');
      await first.fill('input[name=password]', 'wonderland');
      await first.click('#sign-in');
      await first.waitForSelector('html[data-ready="logged-in"]', { state: 'attached' });
      pages = [first, ...(await newTabs(context, `${demo.appUrl}/bench/baseline.html`, tabs - 1, (tab) => tab.waitForSelector('html[data-ready="logged-in"]', { state: 'attached' })))];
    }

    const fire = (page: Page, count: number) =>
      page.evaluate(
        async ({ count, baseline }) => {
          const call = baseline
            ? (window as unknown as { baselineFetch(path: string): Promise<number> }).baselineFetch
            : async (path: string) => (await fetch(path)).status;
          return Promise.all(Array.from({ length: count }, () => call('/api/items')));
        },
        { count, baseline: system !== 'guardian' },
      );
    await fire(first, 1);
    demo.api.rejectSeenTokens();
    const before = { ...demo.provider.counters, grantErrors: { ...demo.provider.counters.grantErrors } };

    const startedAt = performance.now();
    const statuses = (await Promise.all(pages.map((page) => fire(page, requestsPerTab)))).flat();
    const settleMs = performance.now() - startedAt;

    const counters = demo.provider.counters;
    return {
      system,
      tabs,
      requestsPerTab,
      refreshGrants: counters.refreshGrants - before.refreshGrants,
      succeeded: statuses.filter((status) => status === 200).length,
      total: statuses.length,
      grantsRevoked: counters.grantsRevoked - before.grantsRevoked,
      invalidGrant: (counters.grantErrors.invalid_grant ?? 0) - (before.grantErrors.invalid_grant ?? 0),
      settleMs,
    };
  } finally {
    await context.close();
    await demo.close();
  }
}

export interface ColdStart {
  setup: string;
  firstResponse: Stats;
}

async function coldStarts(page: Page, token: string | null, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    await stopServiceWorkers(page);
    times.push(
      await page.evaluate(async (value) => {
        const startedAt = performance.now();
        const response = await fetch('/api/me', value === null ? {} : { headers: { authorization: `Bearer ${value}` } });
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`cold start request answered ${response.status}`);
        return performance.now() - startedAt;
      }, token),
    );
  }
  return times;
}

/** Time from a stopped worker to the first authenticated response, guardian with a persisted DPoP session against the pass-through worker. */
async function measureColdStart(browser: Browser): Promise<ColdStart[]> {
  const dpopDemo = await benchDemo({ accessTokenTtlSeconds: 3600, guardian: { requestEvents: false } });
  // The floor sends a bearer token, which the demo API accepts without a DPoP proof.
  const bearerDemo = await benchDemo({ accessTokenTtlSeconds: 3600, guardian: { dpop: false, requestEvents: false } });
  try {
    const guardianPage = await (await browser.newContext()).newPage();
    await logIn(guardianPage, dpopDemo);
    await logIn(await (await browser.newContext()).newPage(), bearerDemo);
    const bearerToken = bearerDemo.provider.secrets.accessTokens.at(-1)!;
    const floorPage = await (await browser.newContext()).newPage();
    await installPassThrough(floorPage, bearerDemo);

    const floor = await coldStarts(floorPage, bearerToken, 20);
    const guardian = await coldStarts(guardianPage, null, 20);
    return [
      { setup: 'pass-through worker (floor)', firstResponse: stats(floor) },
      { setup: 'guardian, persisted DPoP session', firstResponse: stats(guardian) },
    ];
  } finally {
    await dpopDemo.close();
    await bearerDemo.close();
  }
}

export interface MemoryGrowth {
  beforeBytes: number;
  afterBytes: number;
  requests: number;
  refreshes: number;
}

/** Worker heap before and after 10,000 requests and 100 refreshes. */
async function measureMemory(browser: Browser): Promise<MemoryGrowth> {
  const demo = await benchDemo({ accessTokenTtlSeconds: 3600, guardian: { requestEvents: false } });
  try {
    const page = await (await browser.newContext()).newPage();
    await logIn(page, demo);
    await timeRequests(page, '/api/bench', 200, 100, null);
    const beforeBytes = await workerHeapBytes(browser, `${demo.appUrl}/sw.js`);

    const requests = 10_000;
    await page.evaluate(async (count) => {
      for (let done = 0; done < count; done += 100) await Promise.all(Array.from({ length: 100 }, () => fetch('/api/bench').then((response) => response.arrayBuffer())));
    }, requests);
    const refreshes = 100;
    for (let i = 0; i < refreshes; i++) {
      demo.api.rejectSeenTokens();
      await page.evaluate(async () => (await fetch('/api/bench')).status);
    }
    const afterBytes = await workerHeapBytes(browser, `${demo.appUrl}/sw.js`);
    return { beforeBytes, afterBytes, requests, refreshes };
  } finally {
    await demo.close();
  }
}

export interface BenchResults {
  date: string;
  machine: { cpus: string; cores: number; memoryGiB: number; node: string };
  chromium: string;
  settings: { rounds: number; requestsPerRun: number; batchSize: number };
  overhead: SetupLatency[];
  profiles: WorkerProfile[];
  storms: StormResult[];
  coldStart: ColdStart[];
  bundles: { guardian: BundleSize[]; compared: BundleSize[] };
  memory: MemoryGrowth;
}

async function main(): Promise<void> {
  const found = findChromium();
  if (found === null) throw new Error('bench: no Chromium found; run "node e2e/chromium.mjs --ensure" or set CHROMIUM_PATH');
  const version = execFileSync(found.path, ['--version'], { encoding: 'utf8' }).trim();
  console.log(`bench: using ${found.path} (${version})`);
  const browser = await chromium.launch({
    executablePath: found.path,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });

  try {
    // BENCH_SECTIONS=overhead,storm,coldstart,memory,bundles runs only the named sections.
    const sections = new Set((process.env.BENCH_SECTIONS ?? 'overhead,storm,coldstart,memory,bundles').split(','));
    console.log('bench: interception overhead');
    const { latency: overhead, profiles } = sections.has('overhead') ? await measureOverhead(browser) : { latency: [], profiles: [] };
    console.log('bench: refresh storms');
    const storms: StormResult[] = [];
    for (const tabs of sections.has('storm') ? [1, 5, 10] : []) {
      for (const requestsPerTab of [10, 100]) {
        for (const system of ['guardian', 'in-page baseline'] as const) {
          const result = await storm(browser, system, tabs, requestsPerTab);
          console.log(`bench: storm ${system} ${tabs} × ${requestsPerTab}: ${result.succeeded}/${result.total} succeeded, ${result.refreshGrants} grants, ${Math.round(result.settleMs)} ms`);
          storms.push(result);
        }
      }
    }
    console.log('bench: cold start');
    const coldStart = sections.has('coldstart') ? await measureColdStart(browser) : [];
    console.log('bench: memory');
    const memory = sections.has('memory') ? await measureMemory(browser) : { beforeBytes: 0, afterBytes: 0, requests: 0, refreshes: 0 };
    console.log('bench: bundle sizes');
    const bundles = sections.has('bundles')
      ? { guardian: await measureBundles(guardianBundles), compared: await measureBundles(comparedBundles) }
      : { guardian: [], compared: [] };

    const results: BenchResults = {
      date: new Date().toISOString(),
      machine: { cpus: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
      chromium: version,
      settings: { rounds, requestsPerRun, batchSize },
      overhead,
      profiles,
      storms,
      coldStart,
      bundles,
      memory,
    };
    writeFileSync('bench-results.json', `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync('BENCHMARKS.md', writeReport(results));
    console.log('bench: wrote BENCHMARKS.md and bench-results.json');
  } finally {
    await browser.close();
  }
}

await main();
