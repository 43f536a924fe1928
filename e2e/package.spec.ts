// Uses the package as an app would. The tests pack it with `npm pack`, install the tarball into
// a scratch app, and type-check a TypeScript consumer through the package's exports. Then they
// bundle a worker and a page with esbuild and run the login against them, and against the
// prebuilt scripts for apps without a bundler.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Page } from '@playwright/test';
import * as esbuild from 'esbuild';
import { startDemo, type DemoServers } from '../demo/server.ts';
import { expect, logIn, test } from './fixtures.ts';

const repoDir = fileURLToPath(new URL('..', import.meta.url));
const tscBin = join(repoDir, 'node_modules', 'typescript', 'bin', 'tsc');
const runFile = promisify(execFile);

// The packing and the installation run once for the file, so its tests run in order in one worker.
test.describe.configure({ mode: 'default' });

let workDir = '';
let appDir = '';
let packedFiles: string[] = [];

/** Runs a command with a time limit and returns its standard output. A failure's error contains both outputs. */
async function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  try {
    const { stdout } = await runFile(command, args, { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout}${stderr}`, { cause: error });
  }
}

// A consumer of the public types on each side. The @ts-expect-error lines fail the check when
// a type resolves to `any`.
const workerTypes = `
import { GuardianError, installTokenGuardian, type ErrorInfo, type GuardianConfig, type GuardianErrorCode } from 'sw-token-guardian/sw';
import type { AuthState, AuthStatus, GuardianEvent, UserClaims } from 'sw-token-guardian/sw';

const config: GuardianConfig = {
  issuer: 'https://login.example.com',
  clientId: 'app',
  redirectUri: 'https://app.example.com/callback',
  resources: ['https://app.example.com/api'],
  dpop: 'auto',
  persistence: 'memory',
};
installTokenGuardian(config);
// @ts-expect-error issuer is a string
installTokenGuardian({ ...config, issuer: 1 });
// @ts-expect-error persistence is one of three values
installTokenGuardian({ ...config, persistence: 'localStorage' });

const error = new GuardianError('invalid_config', 'message');
const code: GuardianErrorCode = error.code;
// @ts-expect-error codes form a closed union
const unknownCode: GuardianErrorCode = 'no_such_code';
const info: ErrorInfo = { code, message: error.message };
const status: AuthStatus = 'login_required';
const user: UserClaims = { sub: 'alice', email: 'alice@example.com' };
const state: AuthState = { status, user, expiresAt: null, error: info };
const event: GuardianEvent = { type: 'state', state };
export { event, unknownCode };
`;

const classicWorkerTypes = `
/// <reference types="sw-token-guardian/sw/classic" />
import type { GuardianConfig } from 'sw-token-guardian/sw';

declare const config: GuardianConfig;
swTokenGuardian.installTokenGuardian(config);
// @ts-expect-error resources is a list
swTokenGuardian.installTokenGuardian({ ...config, resources: 'https://app.example.com/api' });
const error: Error = new swTokenGuardian.GuardianError('timeout', 'message');
export { error };
`;

const pageTypes = `
import { connectTokenGuardian, GuardianError, type ConnectOptions, type TokenGuardian } from 'sw-token-guardian/client';
import type { AuthState, ErrorInfo, GuardianErrorCode, GuardianEvent, LoginOptions, LogoutOptions, LogoutResult, RequestOutcome } from 'sw-token-guardian/client';

const options: ConnectOptions = { scriptUrl: '/sw.js', scope: '/', type: 'classic', timeoutMs: 5000 };
// @ts-expect-error scriptUrl is required
const noScript: ConnectOptions = { scope: '/' };
const guardian: TokenGuardian = await connectTokenGuardian(options);
const login: LoginOptions = { returnTo: '/' };
await guardian.login(login);
const logout: LogoutOptions = { returnTo: '/' };
const result: LogoutResult = await guardian.logout(logout);
const redirecting: boolean = result.redirecting;
const state: AuthState = await guardian.getAuthState();
const lastError: ErrorInfo | null = state.error;
const unsubscribe: () => void = guardian.subscribe((event: GuardianEvent) => {
  if (event.type !== 'request') return;
  const outcome: RequestOutcome = event.outcome;
  const path: string = event.path;
  console.log(outcome, path);
});
try {
  await guardian.getAuthState();
} catch (error) {
  if (error instanceof GuardianError) {
    const code: GuardianErrorCode = error.code;
    console.log(code);
  }
}
export { lastError, noScript, redirecting, unsubscribe };
`;

// The scratch app's worker and page, bundled with esbuild. The demo server defines
// GUARDIAN_DEMO_CONFIG in front of the worker script, with the ports it listens on.
const bundledWorker = `
import { installTokenGuardian, type GuardianConfig } from 'sw-token-guardian/sw';

declare const GUARDIAN_DEMO_CONFIG: GuardianConfig;
installTokenGuardian(GUARDIAN_DEMO_CONFIG);
`;

const bundledPage = `
import { connectTokenGuardian, GuardianError, type AuthState, type GuardianEvent } from 'sw-token-guardian/client';

function show(state: AuthState): void {
  const view = document.getElementById('status')!;
  view.textContent = state.status;
  view.dataset.status = state.status;
}

const events: GuardianEvent[] = [];
try {
  const guardian = await connectTokenGuardian({ scriptUrl: '/sw.js' });
  Object.assign(window, { demoGuardian: guardian, guardianEvents: events });
  document.getElementById('login')!.addEventListener('click', () => void guardian.login({ returnTo: '/' }));
  guardian.subscribe((event) => {
    events.push(event);
    if (event.type === 'state') show(event.state);
  });
  show(await guardian.getAuthState());
} catch (error) {
  const code = error instanceof GuardianError ? error.code : 'error';
  document.getElementById('error')!.textContent = code + ': ' + String(error);
}
`;

// The same app without a bundler: a classic worker and a module page that load the prebuilt
// scripts from the installed package.
const classicWorker = `
importScripts('/node_modules/sw-token-guardian/dist/sw-token-guardian.classic.js');
swTokenGuardian.installTokenGuardian(GUARDIAN_DEMO_CONFIG);
`;

const unbundledPage = `
import { connectTokenGuardian } from '/node_modules/sw-token-guardian/dist/sw-token-guardian.client.js';

function show(state) {
  const view = document.getElementById('status');
  view.textContent = state.status;
  view.dataset.status = state.status;
}

const events = [];
try {
  const guardian = await connectTokenGuardian({ scriptUrl: '/sw.js' });
  Object.assign(window, { demoGuardian: guardian, guardianEvents: events });
  document.getElementById('login').addEventListener('click', () => void guardian.login({ returnTo: '/' }));
  guardian.subscribe((event) => {
    events.push(event);
    if (event.type === 'state') show(event.state);
  });
  show(await guardian.getAuthState());
} catch (error) {
  document.getElementById('error').textContent = (error.code ?? 'error') + ': ' + String(error);
}
`;

function tsconfig(lib: string[], files: string[], module = 'ESNext', moduleResolution = 'bundler'): string {
  const compilerOptions = { target: 'ES2022', module, moduleResolution, lib, types: [], strict: true, exactOptionalPropertyTypes: true, noEmit: true, skipLibCheck: false };
  return JSON.stringify({ compilerOptions, files }, null, 2);
}

test.beforeAll(async () => {
  test.setTimeout(120_000);
  workDir = await mkdtemp(join(tmpdir(), 'sw-token-guardian-package-'));
  appDir = join(workDir, 'app');
  await mkdir(join(appDir, 'src'), { recursive: true });

  // npm pack runs the prepack script, which builds the package first.
  const packed = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', workDir], repoDir, 60_000)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const tarball = join(workDir, packed[0]!.filename);
  packedFiles = packed[0]!.files.map((file) => file.path);

  const appPackage = { name: 'scratch-app', private: true, type: 'module', dependencies: { 'sw-token-guardian': `file:${tarball}` } };
  await writeFile(join(appDir, 'package.json'), JSON.stringify(appPackage, null, 2));
  // The dependencies come from the npm cache that `npm ci` filled for this repository.
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], appDir, 90_000);

  const worker = ['ES2023', 'WebWorker'];
  const page = ['ES2023', 'DOM'];
  const files: Record<string, string> = {
    'src/worker-types.ts': workerTypes,
    'src/classic-worker-types.ts': classicWorkerTypes,
    'src/page-types.ts': pageTypes,
    'src/sw.ts': bundledWorker,
    'src/page.ts': bundledPage,
    'tsconfig.worker.json': tsconfig(worker, ['src/worker-types.ts', 'src/classic-worker-types.ts', 'src/sw.ts']),
    'tsconfig.page.json': tsconfig(page, ['src/page-types.ts', 'src/page.ts']),
    // NodeNext resolution follows the declarations' relative imports exactly as written.
    'tsconfig.nodenext.json': tsconfig(page, ['src/page-types.ts'], 'NodeNext', 'NodeNext'),
  };
  for (const [path, text] of Object.entries(files)) await writeFile(join(appDir, path), text);
});

test.afterAll(async () => {
  if (workDir !== '') await rm(workDir, { recursive: true, force: true });
});

test('tarball holds the built package only', async () => {
  const shipped = /^(README\.md|package\.json|dist\/(sw|client)\/[\w-]+\.(js|js\.map|d\.ts)|dist\/sw-token-guardian\.(classic|client)\.js(\.map)?)$/;
  for (const path of packedFiles) expect(path, `${path} should not be in the tarball`).toMatch(shipped);
  for (const path of ['README.md', 'dist/sw/index.js', 'dist/sw/index.d.ts', 'dist/client/index.js', 'dist/client/index.d.ts', 'dist/sw/classic.d.ts', 'dist/sw-token-guardian.classic.js', 'dist/sw-token-guardian.client.js']) {
    expect(packedFiles, `${path} is missing from the tarball`).toContain(path);
  }

  const installedDir = join(appDir, 'node_modules', 'sw-token-guardian');
  const manifest = JSON.parse(await readFile(join(installedDir, 'package.json'), 'utf8')) as { exports: Record<string, string | Record<string, string>>; sideEffects: unknown };
  expect(manifest.sideEffects).toBe(false);
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    const conditions = typeof target === 'string' ? { default: target } : target;
    if (typeof target !== 'string') expect(Object.keys(target)[0], `${subpath}: "types" must come first`).toBe('types');
    for (const file of Object.values(conditions)) expect(existsSync(join(installedDir, file)), `${subpath} points at ${file}, which is missing`).toBe(true);
  }

  for (const path of packedFiles.filter((file) => file.endsWith('.d.ts'))) {
    const declarations = await readFile(join(installedDir, path), 'utf8');
    expect(declarations, `${path} imports a .ts file, which the package does not ship`).not.toMatch(/(from\s*|import\s*\(\s*)['"]\.{1,2}\/[^'"]*\.ts['"]/);
  }
});

test('consumer type-checks through the exports', async () => {
  for (const project of ['tsconfig.worker.json', 'tsconfig.page.json', 'tsconfig.nodenext.json']) {
    const output = await run(process.execPath, [tscBin, '-p', project], appDir, 60_000);
    expect(output, `tsc -p ${project}`).toBe('');
  }
});

/** Bundles a file of the scratch app with esbuild, with the settings that the README gives apps. */
async function bundleFromApp(entry: string, format: 'iife' | 'esm', nodeEnv = 'production'): Promise<{ code: string; inputs: string[] }> {
  const result = await esbuild.build({
    absWorkingDir: appDir,
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format,
    platform: 'browser',
    target: 'es2022',
    define: { 'process.env.NODE_ENV': JSON.stringify(nodeEnv) },
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return { code: result.outputFiles[0]!.text, inputs: Object.keys(result.metafile.inputs) };
}

test('package builds log only in development', async () => {
  const devLogLine = '[sw-token-guardian #';
  const development = (await bundleFromApp('src/sw.ts', 'iife', 'development')).code;
  const production = (await bundleFromApp('src/sw.ts', 'iife', 'production')).code;
  const classic = await readFile(join(appDir, 'node_modules', 'sw-token-guardian', 'dist', 'sw-token-guardian.classic.js'), 'utf8');

  expect(development.includes(devLogLine), 'a development bundle keeps the development log').toBe(true);
  expect(production.includes(devLogLine), 'a production bundle drops the development log').toBe(false);
  expect(classic.includes('globalThis.swTokenGuardian='), 'the classic script defines its global').toBe(true);
  expect(classic.includes(devLogLine), 'the classic script drops the development log').toBe(false);
});

/** Serves the installed package's files under /node_modules/sw-token-guardian/ and records the paths served. */
function servePackage(served: string[]) {
  const packageDir = join(appDir, 'node_modules', 'sw-token-guardian') + sep;
  const types: Record<string, string> = { '.js': 'text/javascript', '.map': 'application/json' };
  return (path: string, _request: unknown, response: ServerResponse): boolean => {
    if (!path.startsWith('/node_modules/sw-token-guardian/')) return false;
    const file = resolve(appDir, `.${decodeURIComponent(path)}`);
    if (!file.startsWith(packageDir) || !existsSync(file)) {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('Not found');
      return true;
    }
    served.push(path);
    response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    response.end(readFileSync(file));
    return true;
  };
}

/** Writes the demo's page around `appJs` and the worker script `swJs` into a folder for `startDemo`. */
async function writeSite(name: string, appJs: string, swJs: string): Promise<string> {
  const siteDir = join(workDir, name);
  await mkdir(siteDir, { recursive: true });
  await copyFile(join(repoDir, 'demo', 'index.html'), join(siteDir, 'index.html'));
  await writeFile(join(siteDir, 'app.js'), appJs);
  await writeFile(join(siteDir, 'sw.js'), swJs);
  // startDemo also serves a page client alone at /client.js.
  await copyFile(join(appDir, 'node_modules', 'sw-token-guardian', 'dist', 'sw-token-guardian.client.js'), join(siteDir, 'client.js'));
  return siteDir;
}

/**
 * Logs in through the provider, calls the API from the page, and checks that the API verified
 * the credentials while no token, code or verifier reached anything the page can read.
 */
async function logInAndCallApi(page: Page, demo: DemoServers): Promise<void> {
  await logIn(page, demo);

  const pageRequest = page.waitForRequest((request) => request.url() === `${demo.apiUrl}/me`);
  const seen = await page.evaluate(async () => {
    const response = await fetch('/api/me');
    const guardian = (window as unknown as { demoGuardian: { getAuthState(): Promise<unknown> } }).demoGuardian;
    return {
      status: response.status,
      body: await response.text(),
      state: JSON.stringify(await guardian.getAuthState()),
      events: JSON.stringify((window as unknown as { guardianEvents: unknown[] }).guardianEvents),
      html: document.documentElement.outerHTML,
      storage: JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
      cookie: document.cookie,
      url: location.href,
      resourceUrls: performance.getEntries().map((entry) => entry.name).join('\n'),
    };
  });
  expect(seen.status, seen.body).toBe(200);
  expect((await (await pageRequest).allHeaders()).authorization, 'the page sent an Authorization header itself').toBeUndefined();

  const record = demo.api.records.at(-1);
  expect(record?.path).toBe('/api/me');
  expect(record?.authorized).toBe(true);
  expect(record?.scheme).toBe('DPoP');
  expect(record?.status).toBe(200);

  const secrets = demo.provider.secrets;
  expect(secrets.accessTokens.length).toBeGreaterThan(0);
  const issued = [...secrets.accessTokens, ...secrets.refreshTokens, ...secrets.idTokens, ...secrets.codes, ...secrets.codeVerifiers];
  for (const [where, text] of Object.entries(seen)) {
    for (const secret of issued) expect(String(text).includes(secret), `${where} contains a secret issued by the provider`).toBe(false);
  }
}

test('bundled worker and page log in', async ({ page }) => {
  const worker = await bundleFromApp('src/sw.ts', 'iife');
  const pageScript = await bundleFromApp('src/page.ts', 'esm');
  // The bundles come from the installed package, not from this repository's sources.
  expect(worker.inputs).toContain('node_modules/sw-token-guardian/dist/sw/index.js');
  expect(pageScript.inputs).toContain('node_modules/sw-token-guardian/dist/client/index.js');

  const demo = await startDemo({ distDir: await writeSite('bundled-site', pageScript.code, worker.code) });
  try {
    await logInAndCallApi(page, demo);
  } finally {
    await demo.close();
  }
});

test('classic worker script logs in without a bundler', async ({ page }) => {
  const served: string[] = [];
  const distDir = await writeSite('unbundled-site', unbundledPage, classicWorker);
  const demo = await startDemo({ distDir, extraRoutes: servePackage(served) });
  try {
    await logInAndCallApi(page, demo);
  } finally {
    await demo.close();
  }
  expect(served).toContain('/node_modules/sw-token-guardian/dist/sw-token-guardian.classic.js');
  expect(served).toContain('/node_modules/sw-token-guardian/dist/sw-token-guardian.client.js');
});
