import { expect, test } from '@playwright/test';
import { guardianBundles, measureBundles } from './bench/bundle-sizes.ts';

// Gzipped size limits, a few percent above the sizes measured when they were set, so growth is
// a decision rather than an accident. BENCHMARKS.md compares them with other libraries.
const budgets: Record<string, number> = {
  'sw-token-guardian worker': 20.5 * 1024,
  'sw-token-guardian page client': 3.75 * 1024,
};

test('bundles stay within budget', async () => {
  const sizes = await measureBundles(guardianBundles);
  for (const size of sizes) {
    const budget = budgets[size.name];
    expect(budget, `no budget for ${size.name}`).toBeDefined();
    expect(size.gzipBytes, `${size.name}: ${size.gzipBytes} bytes gzipped, budget ${budget} bytes`).toBeLessThanOrEqual(budget!);
  }
});
