// Builds the library entry points, the demo's page and worker bundles, and the demo server.
// Usage: node esbuild.config.mjs [--package]
// --package builds only what the npm package ships, the library bundles and their declaration
// files. npm pack runs it through the prepack script. The default build emits no declarations.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';

const packageOnly = process.argv.includes('--package');

const browser = {
  bundle: true,
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  // Workbox reads process.env.NODE_ENV; without a definition the worker fails to evaluate.
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
};

// The ESM library builds leave process.env.NODE_ENV to the app's bundler, so a development build
// of the app keeps the worker's development log and a production build drops it. The platform is
// neutral because for 'browser' esbuild defines NODE_ENV itself when the build does not.
const library = {
  bundle: true,
  platform: 'neutral',
  target: 'es2022',
  sourcemap: true,
  format: 'esm',
  packages: 'external',
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

function buildLibrary() {
  return Promise.all([
    // For apps with a bundler: ESM with dependencies left to the app's bundler.
    esbuild.build({ ...library, entryPoints: ['sw/index.ts'], outfile: 'dist/sw/index.js' }),
    esbuild.build({ ...library, entryPoints: ['client/index.ts'], outfile: 'dist/client/index.js' }),

    // For apps without a bundler: every dependency bundled, production logging, minified. The
    // worker is a classic script that defines the global `swTokenGuardian`.
    esbuild.build({ ...browser, entryPoints: ['sw/classic.ts'], outfile: 'dist/sw-token-guardian.classic.js', format: 'iife', minify: true }),
    esbuild.build({ ...browser, entryPoints: ['client/index.ts'], outfile: 'dist/sw-token-guardian.client.js', format: 'esm', minify: true }),
  ]);
}

function buildDemoAndBenchmark() {
  return Promise.all([
    mkdir('dist/demo', { recursive: true }).then(() => copyFile('demo/index.html', 'dist/demo/index.html')),

    // The demo: a classic worker script (the server prepends its configuration) and a module page script.
    // Not minified, so worker profiles (npm run bench) show function names.
    esbuild.build({ ...browser, entryPoints: ['demo/sw.ts'], outfile: 'dist/demo/sw.js', format: 'iife' }),
    // The same demo with resource requests routed by Workbox, served at /sw.js by startDemo({ workerScript: 'workbox-sw.js' }).
    esbuild.build({ ...browser, entryPoints: ['demo/workbox-sw.ts'], outfile: 'dist/demo/workbox-sw.js', format: 'iife' }),
    esbuild.build({ ...browser, entryPoints: ['demo/app.ts'], outfile: 'dist/demo/app.js', format: 'esm', minify: true }),
    // The page client alone, for tests that connect to a worker other than the demo's.
    esbuild.build({ ...browser, entryPoints: ['client/index.ts'], outfile: 'dist/demo/client.js', format: 'esm', minify: true }),
    esbuild.build({ ...node, entryPoints: ['demo/main.ts'], outfile: 'dist/demo/main.js' }),

    // The benchmark: its driver for Node, and the in-page baseline it compares against.
    esbuild.build({ ...browser, entryPoints: ['e2e/bench/baseline-app.ts'], outfile: 'dist/bench/baseline.js', format: 'esm', minify: true }),
    esbuild.build({ ...node, entryPoints: ['e2e/bench/run.ts'], outfile: 'dist/bench/run.js' }),
  ]);
}

// Relative module specifiers in `from '…'`, `import('…')` and `import '…'`.
const relativeSpecifier = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\2/g;

/**
 * Emits the declaration files with tsconfig.build.json into a temporary folder, then copies to
 * dist/ those that the public entry points reach. tsc 7.0 keeps the sources' `.ts` import
 * extensions in declaration files, even with rewriteRelativeImportExtensions, so the copy
 * rewrites them to `.js`, the extension of the built files that the declarations describe.
 */
async function emitDeclarations() {
  const staging = await mkdtemp(join(tmpdir(), 'sw-token-guardian-types-'));
  try {
    await promisify(execFile)(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', staging]).catch((error) => {
      throw new Error(`declaration emit failed:\n${error.stdout}${error.stderr}`, { cause: error });
    });

    const pending = ['sw/index.d.ts', 'client/index.d.ts', 'sw/classic.d.ts'];
    const copied = new Set();
    while (pending.length > 0) {
      const file = pending.pop();
      if (copied.has(file)) continue;
      copied.add(file);

      const text = await readFile(join(staging, file), 'utf8');
      const rewritten = text.replace(relativeSpecifier, (_match, keyword, quote, specifier) => {
        const target = specifier.replace(/\.ts$/, '.js');
        pending.push(posix.join(posix.dirname(file), target.replace(/\.js$/, '.d.ts')));
        return `${keyword}${quote}${target}${quote}`;
      });
      await mkdir(dirname(join('dist', file)), { recursive: true });
      await writeFile(join('dist', file), rewritten);
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

if (packageOnly) {
  // A clean start, so the tarball contains no file left from an earlier build.
  const outputs = ['dist/sw', 'dist/client', 'dist/sw-token-guardian.classic.js', 'dist/sw-token-guardian.classic.js.map', 'dist/sw-token-guardian.client.js', 'dist/sw-token-guardian.client.js.map'];
  await Promise.all(outputs.map((path) => rm(path, { recursive: true, force: true })));
  await buildLibrary();
  await emitDeclarations();
} else {
  await Promise.all([buildLibrary(), buildDemoAndBenchmark()]);
}
