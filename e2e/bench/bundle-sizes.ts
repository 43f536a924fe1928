// Bundle sizes, built as the README instructs users to build: esbuild, bundled and minified,
// with process.env.NODE_ENV defined. Sizes are deterministic for a given lock file.
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

export interface BundleSize {
  name: string;
  rawBytes: number;
  gzipBytes: number;
  /** Largest contributors to the minified output, by input file, in bytes. */
  topInputs: Array<{ input: string; bytes: number }>;
}

interface BundleEntry {
  name: string;
  source: string;
  format: 'esm' | 'iife';
}

export const guardianBundles: BundleEntry[] = [
  {
    name: 'sw-token-guardian worker',
    source: "import { installTokenGuardian } from './sw/index.ts';\ninstallTokenGuardian(self.GUARDIAN_CONFIG);",
    format: 'iife',
  },
  { name: 'sw-token-guardian page client', source: "export { connectTokenGuardian } from './client/index.ts';", format: 'esm' },
];

export const comparedBundles: BundleEntry[] = [
  { name: '@axa-fr/oidc-client page client', source: "export { OidcClient } from '@axa-fr/oidc-client';", format: 'esm' },
  { name: '@axa-fr/oidc-client service worker', source: "import '@axa-fr/oidc-client-service-worker';", format: 'iife' },
  { name: 'oidc-client-ts', source: "export { UserManager } from 'oidc-client-ts';", format: 'esm' },
  { name: '@auth0/auth0-spa-js', source: "export { createAuth0Client } from '@auth0/auth0-spa-js';", format: 'esm' },
];

async function measure(entry: BundleEntry): Promise<BundleSize> {
  const result = await esbuild.build({
    stdin: { contents: entry.source, resolveDir: process.cwd(), loader: 'ts', sourcefile: `${entry.name}.ts` },
    bundle: true,
    minify: true,
    format: entry.format,
    platform: 'browser',
    target: 'es2022',
    define: { 'process.env.NODE_ENV': '"production"' },
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const output = result.outputFiles[0]!.contents;
  const outputMeta = Object.values(result.metafile.outputs)[0]!;
  const topInputs = Object.entries(outputMeta.inputs)
    .map(([input, { bytesInOutput }]) => ({ input: input.replace(/^.*node_modules\//, ''), bytes: bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 8);
  return { name: entry.name, rawBytes: output.byteLength, gzipBytes: gzipSync(output, { level: 9 }).byteLength, topInputs };
}

export function measureBundles(entries: BundleEntry[]): Promise<BundleSize[]> {
  return Promise.all(entries.map(measure));
}
