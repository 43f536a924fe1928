import * as esbuild from 'esbuild';
import { expect, test } from '@playwright/test';
import { guardianBundles, measureBundles } from './bench/bundle-sizes.ts';

// Gzipped size limits, a few percent above the sizes measured when they were set, so growth is
// a decision rather than an accident. BENCHMARKS.md compares them with other libraries.
const budgets: Record<string, number> = {
  'sw-token-guardian worker': 22.5 * 1024,
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

test('production build drops development logs', async () => {
  const build = (nodeEnv: string) =>
    esbuild.build({
      stdin: { contents: guardianBundles[0]!.source, resolveDir: process.cwd(), loader: 'ts' },
      bundle: true,
      minify: true,
      format: 'iife',
      define: { 'process.env.NODE_ENV': JSON.stringify(nodeEnv) },
      write: false,
      logLevel: 'silent',
    });
  const production = (await build('production')).outputFiles[0]!.text;
  const development = (await build('development')).outputFiles[0]!.text;

  expect(development).toContain('refresh #');
  expect(development).toContain('[sw-token-guardian #');
  expect(production).not.toContain('[sw-token-guardian #');
  expect(production).not.toContain(' started (');
});
