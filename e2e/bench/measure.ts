// Measurement helpers shared by the benchmark sections.
import type { Browser, BrowserContext, CDPSession, Page } from '@playwright/test';
import type { DemoServers } from '../../demo/server.ts';

export interface Stats {
  count: number;
  median: number;
  p95: number;
  mean: number;
}

export function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (fraction: number) => sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length);
  return { count: sorted.length, median: at(0.5), p95: at(0.95), mean };
}

/** Logs in through the demo app and the provider's login page, as the tests do. */
export async function logIn(page: Page, demo: DemoServers): Promise<void> {
  await page.goto(`${demo.appUrl}/`);
  await page.waitForSelector('#status[data-status]');
  await page.click('#login');
  await page.waitForURL(`${demo.issuer}/interaction/**`);
  await page.fill('input[name=username]', 'alice');
  await page.fill('input[name=password]', 'wonderland');
  await page.click('#sign-in');
  await page.waitForURL(`${demo.appUrl}/`);
  await page.waitForSelector('#status[data-status="authenticated"]');
}

/** Registers the pass-through worker and reloads until it controls the page. */
export async function installPassThrough(page: Page, demo: DemoServers): Promise<void> {
  await page.goto(`${demo.appUrl}/bench/page.html`);
  await page.evaluate(async () => {
    await navigator.serviceWorker.register('/bench/passthrough-sw.js', { scope: '/' });
    await navigator.serviceWorker.ready;
  });
  await page.reload();
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
}

export interface LatencyRun {
  sequential: number[];
  concurrent: number[];
}

/** Times `count` sequential GETs, then `count` more in parallel batches of `batch`, in the page. */
export function timeRequests(page: Page, path: string, count: number, batch: number, token: string | null): Promise<LatencyRun> {
  return page.evaluate(
    async ({ path, count, batch, token }) => {
      const init: RequestInit = token === null ? {} : { headers: { authorization: `Bearer ${token}` } };
      const timeOne = async () => {
        const startedAt = performance.now();
        const response = await fetch(path, init);
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`benchmark request answered ${response.status}`);
        return performance.now() - startedAt;
      };
      const sequential: number[] = [];
      for (let i = 0; i < count; i++) sequential.push(await timeOne());
      const concurrent: number[] = [];
      for (let done = 0; done < count; done += batch) concurrent.push(...(await Promise.all(Array.from({ length: batch }, timeOne))));
      return { sequential, concurrent };
    },
    { path, count, batch, token },
  );
}

/** Stops every service worker of the browser through the DevTools protocol. */
export async function stopServiceWorkers(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.stopAllWorkers');
  await cdp.detach();
}

type WorkerCall = (method: string, params?: Record<string, unknown>) => Promise<Record<string, unknown>>;

/**
 * Runs `task` with a DevTools session attached to the running service worker whose script is
 * `scriptUrl`, through a browser-level session (Playwright opens page sessions only).
 */
async function withWorkerSession<T>(browser: Browser, scriptUrl: string, task: (call: WorkerCall) => Promise<T>): Promise<T> {
  const session: CDPSession = await browser.newBrowserCDPSession();
  try {
    const { targetInfos } = (await session.send('Target.getTargets')) as { targetInfos: Array<{ targetId: string; type: string; url: string }> };
    const target = targetInfos.find((info) => info.type === 'service_worker' && info.url === scriptUrl);
    if (target === undefined) throw new Error(`no running service worker with the script ${scriptUrl}`);
    const { sessionId } = (await session.send('Target.attachToTarget', { targetId: target.targetId, flatten: false })) as { sessionId: string };

    let nextId = 1;
    const call: WorkerCall = (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        const onMessage = (event: { sessionId: string; message: string }) => {
          const reply = JSON.parse(event.message) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
          if (event.sessionId !== sessionId || reply.id !== id) return;
          session.off('Target.receivedMessageFromTarget', onMessage);
          if (reply.error) reject(new Error(reply.error.message));
          else resolve(reply.result ?? {});
        };
        session.on('Target.receivedMessageFromTarget', onMessage);
        void session.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) });
      });

    const result = await task(call);
    await session.send('Target.detachFromTarget', { sessionId });
    return result;
  } finally {
    await session.detach();
  }
}

/** Reads the JS heap of the service worker running `scriptUrl` after a garbage collection, in bytes. */
export function workerHeapBytes(browser: Browser, scriptUrl: string): Promise<number> {
  return withWorkerSession(browser, scriptUrl, async (call) => {
    await call('HeapProfiler.enable');
    await call('HeapProfiler.collectGarbage');
    const usage = await call('Runtime.getHeapUsage');
    return usage.usedSize as number;
  });
}

export interface ProfileEntry {
  function: string;
  selfMs: number;
  share: number;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/**
 * Samples the service worker's CPU while `during` runs and returns the functions with the most
 * self time. `(idle)` and `(program)` are the worker waiting and the engine's own work.
 */
export function profileWorker(browser: Browser, scriptUrl: string, during: () => Promise<unknown>, top = 12): Promise<ProfileEntry[]> {
  return withWorkerSession(browser, scriptUrl, async (call) => {
    await call('Profiler.enable');
    await call('Profiler.setSamplingInterval', { interval: 100 });
    await call('Profiler.start');
    await during();
    const { profile } = (await call('Profiler.stop')) as { profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } };

    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    const selfMicros = new Map<string, number>();
    let total = 0;
    profile.samples.forEach((nodeId, index) => {
      const frame = nodes.get(nodeId)?.callFrame;
      const file = frame?.url.split('/').pop() ?? '';
      const name = frame === undefined ? '(unknown)' : `${frame.functionName || '(anonymous)'}${file ? ` ${file}:${frame.lineNumber + 1}` : ''}`;
      const delta = profile.timeDeltas[index] ?? 0;
      selfMicros.set(name, (selfMicros.get(name) ?? 0) + delta);
      total += delta;
    });
    return [...selfMicros]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, micros]) => ({ function: name, selfMs: micros / 1000, share: micros / Math.max(1, total) }));
  });
}

export async function newTabs(context: BrowserContext, url: string, count: number, ready: (page: Page) => Promise<unknown>): Promise<Page[]> {
  const tabs: Page[] = [];
  for (let i = 0; i < count; i++) {
    const tab = await context.newPage();
    await tab.goto(url);
    await ready(tab);
    tabs.push(tab);
  }
  return tabs;
}
