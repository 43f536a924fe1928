// The demo's timeline: its layout in Node, a live two-tab burst after expiry, and a screenshot
// of a recorded event list compared with a committed baseline. The live test attaches a
// full-page screenshot to the report, which `--reporter=html` shows.
//
// The baseline is e2e/timeline.spec.ts-snapshots/recorded-events-e2e-linux.png, taken by
// Debian's Chromium in headless mode. After a deliberate change to the timeline's look, write
// a new one with the command below. Look at it, and commit it with the change.
//   npm run build && npx playwright test e2e/timeline.spec.ts --workers 1 --update-snapshots
// Another Chromium build or font set draws text a few pixels apart, so a baseline taken
// elsewhere does not match this one.
import type { Page } from '@playwright/test';
import type { GuardianErrorCode, GuardianEvent } from '../client/index.ts';
import { layoutTimeline } from '../demo/timeline-layout.ts';
import { TimelineModel, type RequestMark, type TimelineEntry } from '../demo/timeline-model.ts';
import { expect, logIn, openApp, openTab, test } from './fixtures.ts';

const burstSize = 20;

interface DrawnBar {
  kind: string;
  lane: string | undefined;
  outcome: string | undefined;
  phase: string | undefined;
  start: number;
  end: number;
  left: number;
  right: number;
}

/** Reads every bar of the page's timeline: its data attributes and where it is drawn. */
function readBars(page: Page): Promise<DrawnBar[]> {
  return page.locator('#timeline rect[data-kind]').evaluateAll((rects) =>
    rects.map((rect) => {
      const box = rect.getBoundingClientRect();
      const data = (rect as SVGRectElement).dataset;
      return {
        kind: data.kind ?? '',
        lane: data.lane,
        outcome: data.outcome,
        phase: data.phase,
        start: Number(data.start),
        end: Number(data.end),
        left: box.left,
        right: box.right,
      };
    }),
  );
}

type RequestEvent = Extract<GuardianEvent, { type: 'request' }>;

/** Builds a request event; `status: null` leaves the status out, as for a network error. */
function request(receivedAt: number, durationMs: number, fields: Partial<Omit<RequestEvent, 'status'>> & { status?: number | null } = {}): TimelineEntry {
  const { status = 200, ...rest } = fields;
  const event: RequestEvent = { type: 'request', requestId: 1, method: 'GET', path: '/api/items/1', outcome: 'attached', durationMs, clientId: 'own', ownTab: true, ...rest };
  if (status !== null) event.status = status;
  return { event, receivedAt };
}

function authState(status: 'authenticated' | 'unauthenticated' | 'login_required', receivedAt: number, errorCode?: GuardianErrorCode): TimelineEntry {
  const error = errorCode === undefined ? null : { code: errorCode, message: 'The provider rejected the refresh token.' };
  return { event: { type: 'state', state: { status, user: null, expiresAt: null, error } }, receivedAt };
}

function refresh(phase: 'started' | 'succeeded' | 'failed', refreshId: number, receivedAt: number, durationMs?: number, errorCode?: GuardianErrorCode): TimelineEntry {
  const event: GuardianEvent = { type: 'refresh', phase, refreshId };
  if (durationMs !== undefined) event.durationMs = durationMs;
  if (errorCode !== undefined) event.error = { code: errorCode, message: 'The provider rejected the refresh token.' };
  return { event, receivedAt };
}

// 12:00:00 UTC. The screenshot test runs in the UTC time zone, so the axis reads the same everywhere.
const t0 = Date.UTC(2025, 0, 15, 12, 0, 0);

/**
 * Builds a fixed session of four bursts. It starts with a login. After expiry, two tabs send 20
 * requests each, which wait on one refresh. Then a rejected token is retried after a second
 * refresh, a rejected refresh token ends the session, and a logout follows.
 */
function recordedSession(): TimelineEntry[] {
  const entries: TimelineEntry[] = [authState('authenticated', t0)];

  const burst = t0 + 20_000;
  entries.push(refresh('started', 1, burst + 12));
  entries.push(refresh('succeeded', 1, burst + 818, 806), authState('authenticated', burst + 819));
  for (let index = 0; index < burstSize; index++) {
    const path = `/api/items/${index}`;
    // Intercepted 3 ms apart from the burst's start (this tab) or 40 ms later (the other tab),
    // and responded to 4 ms apart after the refresh.
    entries.push(request(burst + 835 + index * 4, 835 + index, { requestId: index + 1, path }));
    entries.push(request(burst + 840 + index * 4, 800 + index, { requestId: 101 + index, path, clientId: 'other', ownTab: false }));
  }

  const rejected = t0 + 35_000;
  entries.push(refresh('started', 2, rejected + 30), refresh('succeeded', 2, rejected + 290, 258));
  for (let index = 0; index < 3; index++) entries.push(request(rejected + 310 + index * 6, 300, { requestId: 30 + index, path: '/api/me', outcome: 'retried' }));
  for (let index = 0; index < 2; index++) entries.push(request(rejected + 320 + index * 6, 296, { requestId: 130 + index, outcome: 'retried', clientId: 'other', ownTab: false }));

  const ended = t0 + 50_000;
  entries.push(request(ended + 100, 60, { requestId: 140, outcome: 'failed', status: null, clientId: 'other', ownTab: false }));
  entries.push(refresh('started', 3, ended + 20), refresh('failed', 3, ended + 260, 238, 'refresh_rejected'));
  entries.push(authState('login_required', ended + 262, 'refresh_rejected'));
  for (let index = 0; index < 4; index++) entries.push(request(ended + 265 + index * 3, 255, { requestId: 40 + index, outcome: 'unauthorized', status: 401 }));

  entries.push(authState('unauthenticated', t0 + 58_000));
  return entries;
}

test.describe('timeline layout', () => {
  test('idle gaps are shortened', () => {
    const model = new TimelineModel();
    model.add(request(t0 + 100, 100));
    model.add(request(t0 + 30_100, 100, { requestId: 2 }));

    const layout = layoutTimeline(model.marks, 800, t0 + 31_000);

    expect(layout.gaps).toHaveLength(1);
    expect(layout.gaps[0]!.durationMs).toBe(29_900);
    const [first, second] = layout.bars;
    // Each 100 ms request takes a large share of the width instead of 1/300 of it.
    expect(first!.width).toBeGreaterThan(100);
    expect(second!.x).toBeGreaterThan(first!.x + first!.width);
    expect(second!.x + second!.width).toBeLessThanOrEqual(layout.plotRight + 0.001);
  });

  test('concurrent requests get own rows', () => {
    const model = new TimelineModel();
    for (let index = 0; index < burstSize; index++) model.add(request(t0 + 500 + index, 400, { requestId: index }));

    const layout = layoutTimeline(model.marks, 800, t0 + 600);

    expect(new Set(layout.bars.map((bar) => bar.y)).size).toBe(burstSize);
    expect(layout.lanes[0]!.height).toBeGreaterThanOrEqual(burstSize * 5);
  });

  test('tabs are numbered by first appearance', () => {
    const model = new TimelineModel();
    model.add(request(t0 + 10, 5, { clientId: 'c', ownTab: false }));
    model.add(request(t0 + 20, 5, { clientId: 'a', ownTab: false }));
    model.add(request(t0 + 30, 5, { clientId: 'own', ownTab: true }));
    model.add(request(t0 + 40, 5, { clientId: '', ownTab: false }));
    model.add(request(t0 + 50, 5, { clientId: 'c', ownTab: false }));

    expect(model.marks.map((mark) => (mark as RequestMark).lane)).toEqual(['tab 2', 'tab 3', 'this tab', 'unknown tab', 'tab 2']);
    const layout = layoutTimeline(model.marks, 800, t0 + 60);
    expect(layout.lanes.map((lane) => lane.label)).toEqual(['this tab', 'tab 2', 'tab 3', 'unknown tab', 'refresh', 'state']);
  });

  test('state marks only status changes', () => {
    const model = new TimelineModel();
    model.setKnownStatus('authenticated');
    model.add(authState('authenticated', t0));
    model.add(authState('login_required', t0 + 10, 'refresh_rejected'));
    model.add(authState('login_required', t0 + 20, 'refresh_rejected'));
    model.add(authState('authenticated', t0 + 30));

    expect(model.marks.map((mark) => (mark.kind === 'state' ? mark.status : mark.kind))).toEqual(['login_required', 'authenticated']);
  });

  test('refresh without outcome becomes unfinished', () => {
    const model = new TimelineModel();
    model.add(refresh('started', 1, t0));
    model.prune(t0 + 59_000);
    expect(model.marks[0]).toMatchObject({ phase: 'running', end: null });

    model.prune(t0 + 61_000);
    expect(model.marks[0]).toMatchObject({ phase: 'unfinished', end: t0 + 60_000 });
  });
});

test.describe('two tabs after expiry', () => {
  // Long enough that the refreshed token outlives both bursts on a loaded 2-core machine.
  test.use({ demoOptions: { accessTokenTtlSeconds: 6, guardian: { refreshLeewaySeconds: 0 } } });

  test('timeline shows one shared refresh', async ({ context, page, demo }, testInfo) => {
    await logIn(page, demo);
    const other = await openTab(context, demo);
    const tabs = [page, other];
    // The slowed token endpoint keeps the refresh open until both tabs' bursts have started.
    demo.provider.faults.set({ mode: 'none', delayMs: 1_000 });
    await page.waitForTimeout(6_500);

    // One press starts the burst in every tab, through a BroadcastChannel.
    await page.click('#burst-all');
    for (const tab of tabs) await expect(tab.locator('#result')).toHaveText('Burst of 20: 20 × 200, 1 refresh');
    expect(demo.provider.counters.refreshGrants).toBe(1);

    for (const [index, tab] of tabs.entries()) {
      const view = `tab ${index + 1}'s timeline`;
      await expect(tab.locator('#timeline rect[data-kind="request"]'), view).toHaveCount(2 * burstSize);
      const bars = await readBars(tab);
      const refreshes = bars.filter((bar) => bar.kind === 'refresh');
      const requests = bars.filter((bar) => bar.kind === 'request');
      expect(refreshes, view).toHaveLength(demo.provider.counters.refreshGrants);
      const refreshBar = refreshes[0]!;
      expect(refreshBar.phase, view).toBe('succeeded');

      expect(requests.filter((bar) => bar.lane === 'this tab'), view).toHaveLength(burstSize);
      expect(requests.filter((bar) => bar.lane === 'tab 2'), view).toHaveLength(burstSize);
      for (const bar of requests) {
        expect(['attached', 'retried'], view).toContain(bar.outcome);
        // Every request was waiting when the refresh ended, and got its response after it.
        expect(bar.start, view).toBeLessThanOrEqual(refreshBar.end);
        expect(bar.end, view).toBeGreaterThanOrEqual(refreshBar.end);
        expect(bar.left, view).toBeLessThanOrEqual(refreshBar.right + 0.5);
        expect(bar.right, view).toBeGreaterThanOrEqual(refreshBar.right - 0.5);
      }
      await expect(tab.locator('#timeline-summary'), view).toContainText('Shown: 40 requests from 2 tabs (');
      await expect(tab.locator('#timeline-summary'), view).toContainText('1 refresh (1 succeeded)');
      await expect(tab.locator('#timeline [data-lane-label]'), view).toHaveText(['this tab', 'tab 2', 'refresh', 'state']);
    }

    await testInfo.attach('demo after a two-tab burst', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
  });
});

test.describe('recorded events', () => {
  test.use({ viewport: { width: 1000, height: 1400 }, deviceScaleFactor: 1, timezoneId: 'UTC', locale: 'en-US' });

  test('timeline matches the baseline', async ({ page, demo }) => {
    await openApp(page, demo);
    // Only the timeline and its ancestors stay visible, so the rest of the page cannot move it
    // by a fraction of a pixel and change the screenshot.
    await page.evaluate(() => {
      const timeline = document.getElementById('timeline')!;
      for (const element of document.body.querySelectorAll<HTMLElement>('*')) {
        if (!element.contains(timeline) && !timeline.contains(element)) element.style.display = 'none';
      }
    });
    const session = recordedSession();
    await page.evaluate(
      ({ entries, now }) => (window as unknown as { demoTimeline: { replay(entries: unknown[], now: number): void } }).demoTimeline.replay(entries, now),
      { entries: session, now: t0 + 58_500 },
    );

    const timeline = page.locator('#timeline');
    await expect(timeline.locator('rect[data-kind="request"]')).toHaveCount(2 * burstSize + 5 + 1 + 4);
    await expect(timeline.locator('[data-lane-label]')).toHaveText(['this tab', 'tab 2', 'refresh', 'state']);
    await expect(timeline.locator('rect[data-kind="refresh"]')).toHaveCount(3);
    await expect(timeline.locator('[data-kind="state"]')).toHaveCount(3);
    await expect(timeline.locator('rect[data-kind="refresh"]').first()).toHaveAccessibleName('refresh #1 · 806 ms, started 12:00:20.012');
    await expect(timeline.locator('rect[data-outcome="retried"]')).toHaveCount(5);
    await expect(timeline.locator('rect[data-outcome="unauthorized"]')).toHaveCount(4);
    await expect(timeline.locator('rect[data-outcome="failed"]')).toHaveCount(1);
    await expect(page.locator('#timeline-summary')).toHaveText('Shown: 50 requests from 2 tabs (40 attached, 5 retried, 1 failed, 4 unauthorized), 3 refreshes (2 succeeded, 1 failed), 3 state changes.');

    // Drawn without its fill, the smallest mark in this list (the failed request) changes 46
    // pixels, so a missing bar, marker or lane exceeds this tolerance.
    await expect(timeline).toHaveScreenshot('recorded-events.png', { maxDiffPixels: 8 });
  });
});
