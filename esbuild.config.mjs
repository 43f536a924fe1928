// Builds the library entry points, the demo's page and worker bundles, and the demo server.
// Usage: node esbuild.config.mjs
import { copyFile, mkdir } from 'node:fs/promises';
import * as esbuild from 'esbuild';

const browser = {
  bundle: true,
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  // Workbox reads process.env.NODE_ENV; without a definition the worker fails to evaluate.
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
};

// Node programs: the demo server and the benchmark driver, with dependencies left to node_modules.
const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  logLevel: 'warning',
};

await mkdir('dist/demo', { recursive: true });
await mkdir('dist/bench', { recursive: true });

await Promise.all([
  // Library builds: ESM with dependencies left to the app's bundler.
  esbuild.build({ ...browser, entryPoints: ['sw/index.ts'], outfile: 'dist/sw/index.js', format: 'esm', packages: 'external' }),
  esbuild.build({ ...browser, entryPoints: ['client/index.ts'], outfile: 'dist/client/index.js', format: 'esm', packages: 'external' }),

  // The demo: a classic worker script (the server prepends its configuration) and a module page script.
  // Not minified, so worker profiles (npm run bench) show function names.
  esbuild.build({ ...browser, entryPoints: ['demo/sw.ts'], outfile: 'dist/demo/sw.js', format: 'iife' }),
  // The same demo with resource requests routed by Workbox, served at /sw.js by startDemo({ workerScript: 'workbox-sw.js' }).
  esbuild.build({ ...browser, entryPoints: ['demo/workbox-sw.ts'], outfile: 'dist/demo/workbox-sw.js', format: 'iife' }),
  esbuild.build({ ...browser, entryPoints: ['demo/app.ts'], outfile: 'dist/demo/app.js', format: 'esm', minify: true }),
  // The page client alone, for tests that connect to a worker other than the demo's.
  esbuild.build({ ...browser, entryPoints: ['client/index.ts'], outfile: 'dist/demo/client.js', format: 'esm', minify: true }),
  esbuild.build({ ...node, entryPoints: ['demo/main.ts'], outfile: 'dist/demo/main.js' }),
  copyFile('demo/index.html', 'dist/demo/index.html'),

  // The benchmark: its driver for Node, and the in-page baseline it compares against.
  esbuild.build({ ...browser, entryPoints: ['e2e/bench/baseline-app.ts'], outfile: 'dist/bench/baseline.js', format: 'esm', minify: true }),
  esbuild.build({ ...node, entryPoints: ['e2e/bench/run.ts'], outfile: 'dist/bench/run.js' }),
]);
