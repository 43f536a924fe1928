// Starts the whole demo on loopback: the OpenID Provider, the app (page, worker script and
// orders API on one origin), a reports API on a second origin that allows the app through
// CORS, and a third origin that is not a configured resource.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { GuardianConfig } from '../sw/config.ts';
import { createDemoProvider, type DemoProvider } from './provider.ts';
import { createResourceApi, type DpopNonceMode, type ResourceApi } from './resource-api.ts';

export interface DemoOptions {
  /** Ports; 0 lets the operating system choose. Defaults: 0 for all four. */
  appPort?: number;
  providerPort?: number;
  otherPort?: number;
  reportsPort?: number;
  accessTokenTtlSeconds?: number;
  /** Whether the provider offers DPoP. Default true. */
  providerDpop?: boolean;
  /** Whether the provider demands DPoP nonces at its token endpoint. Default false. */
  providerDpopNonce?: boolean;
  /** Seconds a rotated refresh token stays usable. Default 0. */
  refreshReuseGraceSeconds?: number;
  /** DPoP nonce policy of the demo API. Default `off`. */
  apiDpopNonce?: DpopNonceMode;
  /** Overrides merged into the worker's configuration. */
  guardian?: Partial<GuardianConfig>;
  /** Folder with the built `index.html`, `app.js` and `sw.js`. */
  distDir?: string;
  /** Built worker script in `distDir` served at `/sw.js`. Default `sw.js`; `workbox-sw.js` routes with Workbox. */
  workerScript?: string;
  /** Serves extra paths on the app origin, for benchmarks; returns false for paths it does not serve. */
  extraRoutes?: (path: string, req: IncomingMessage, res: ServerResponse) => boolean;
  /** Paths on the app origin registered as redirect URIs besides `/callback`. */
  extraRedirectUris?: string[];
  /**
   * Origins of your own apps that may log in with the demo's client and call its APIs, such as
   * `http://localhost:8080`: `<origin>/callback` becomes a redirect URI, and both APIs allow
   * the origin through CORS.
   */
  extraAppOrigins?: string[];
}

export interface OtherOriginRecord {
  path: string;
  authorized: boolean;
}

export interface DemoServers {
  appUrl: string;
  issuer: string;
  /** The orders API, on the app's origin. Its tokens have this URL as audience. */
  apiUrl: string;
  /** The reports API, on its own origin. Its tokens have this URL as audience. */
  reportsUrl: string;
  /** An origin the worker must never send credentials to. */
  otherOrigin: string;
  clientId: string;
  provider: DemoProvider;
  api: ResourceApi;
  reportsApi: ResourceApi;
  otherRecords: OtherOriginRecord[];
  /** Requests to `<issuer>/echo/…`, a path on the provider's origin that tests may configure as a resource. */
  issuerEchoRecords: OtherOriginRecord[];
  /** The configuration `/sw.js` passes to `installTokenGuardian`; change it to serve a new worker version. */
  workerConfig: Record<string, unknown>;
  close: () => Promise<void>;
}

function defaultDistDir(): string {
  // Bundled, this file sits beside the demo bundles; from source, they are under dist/demo.
  const beside = new URL('./', import.meta.url);
  if (existsSync(new URL('sw.js', beside)) && existsSync(new URL('app.js', beside))) return fileURLToPath(beside);
  return fileURLToPath(new URL('../dist/demo/', import.meta.url));
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function readBuilt(distDir: string, name: string): Promise<string> {
  try {
    return await readFile(`${distDir}/${name}`, 'utf8');
  } catch {
    throw new Error(`demo: ${distDir}/${name} is missing; run "npm run build" first`);
  }
}

function otherOriginHandler(records: OtherOriginRecord[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const headers = {
      'access-control-allow-origin': '*',
      'access-control-allow-headers': '*',
      'access-control-allow-methods': 'GET, POST, PUT, DELETE',
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, headers);
      res.end();
      return;
    }
    const authorized = req.headers.authorization !== undefined;
    records.push({ path: new URL(req.url ?? '/', 'http://localhost').pathname, authorized });
    res.writeHead(200, { ...headers, 'content-type': 'application/json' });
    res.end(JSON.stringify({ origin: 'other', authorizationHeaderReceived: authorized }));
  };
}

export async function startDemo(options: DemoOptions = {}): Promise<DemoServers> {
  const distDir = options.distDir ?? defaultDistDir();
  const [indexHtml, appJs, swJs, clientJs] = await Promise.all(
    ['index.html', 'app.js', options.workerScript ?? 'sw.js', 'client.js'].map((name) => readBuilt(distDir, name)) as [Promise<string>, Promise<string>, Promise<string>, Promise<string>],
  );

  const appServer = createServer();
  const providerServer = createServer();
  const otherServer = createServer();
  const reportsServer = createServer();
  // The app lives on localhost and the provider on 127.0.0.1, so they are different sites, as in production.
  const appPort = await listen(appServer, options.appPort ?? 0, 'localhost');
  const providerPort = await listen(providerServer, options.providerPort ?? 0, '127.0.0.1');
  const otherPort = await listen(otherServer, options.otherPort ?? 0, '127.0.0.1');
  const reportsPort = await listen(reportsServer, options.reportsPort ?? 0, '127.0.0.1');

  const appUrl = `http://localhost:${appPort}`;
  const issuer = `http://127.0.0.1:${providerPort}`;
  const apiUrl = `${appUrl}/api`;
  const reportsOrigin = `http://127.0.0.1:${reportsPort}`;
  const reportsUrl = `${reportsOrigin}/reports`;
  const clientId = 'demo-app';

  const provider = await createDemoProvider({
    issuer,
    appOrigin: appUrl,
    clientId,
    resourceServers: [
      { audience: apiUrl, scope: 'api:read api:write' },
      { audience: reportsUrl, scope: 'reports:read' },
    ],
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 20,
    dpop: options.providerDpop ?? true,
    requireDpopNonce: options.providerDpopNonce ?? false,
    refreshReuseGraceSeconds: options.refreshReuseGraceSeconds ?? 0,
    redirectUris: [`${appUrl}/callback`, ...(options.extraRedirectUris ?? []).map((path) => `${appUrl}${path}`)],
    extraAppOrigins: options.extraAppOrigins ?? [],
  });
  // Each API checks tokens for its own URL as audience, issued by the demo provider.
  const apiAt = (audience: string, origin: string, allowOrigins: string[]) =>
    createResourceApi({
      issuer,
      jwksUri: `${issuer}/jwks`,
      audience,
      origin,
      nonceMode: options.apiDpopNonce ?? 'off',
      ...(allowOrigins.length === 0 ? {} : { cors: { allowOrigins } }),
    });
  const extraOrigins = options.extraAppOrigins ?? [];
  // Same-origin calls need no CORS; apps on the origins given in extraAppOrigins do.
  const api = apiAt(apiUrl, appUrl, extraOrigins);
  const reportsApi = apiAt(reportsUrl, reportsOrigin, [appUrl, ...extraOrigins]);
  const otherRecords: OtherOriginRecord[] = [];

  const workerConfig: Record<string, unknown> = {
    issuer,
    clientId,
    redirectUri: `${appUrl}/callback`,
    postLogoutRedirectUri: `${appUrl}/`,
    scope: 'openid offline_access profile email',
    // Each API checks its own audience, so each gets its own token from the one refresh token.
    resources: [
      { url: apiUrl, resource: apiUrl, scope: 'api:read api:write' },
      { url: reportsUrl, resource: reportsUrl, scope: 'reports:read' },
    ],
    refreshLeewaySeconds: 5,
    allowInsecureRequests: true,
    requestEvents: true,
    ...options.guardian,
  };

  const issuerEchoRecords: OtherOriginRecord[] = [];
  const issuerEcho = otherOriginHandler(issuerEchoRecords);
  providerServer.on('request', (req, res) => {
    if ((req.url ?? '').startsWith('/echo/')) issuerEcho(req, res);
    else provider.handle(req, res);
  });
  otherServer.on('request', otherOriginHandler(otherRecords));
  reportsServer.on('request', (req, res) => reportsApi.handle(req, res));
  appServer.on('request', (req, res) => {
    const path = new URL(req.url ?? '/', appUrl).pathname;
    if (path === '/api' || path.startsWith('/api/')) {
      api.handle(req, res);
      return;
    }
    const noStore = { 'cache-control': 'no-store' };
    if (path === '/sw.js') {
      res.writeHead(200, { ...noStore, 'content-type': 'text/javascript' });
      res.end(`const GUARDIAN_DEMO_CONFIG = ${JSON.stringify(workerConfig)};\n${swJs}`);
    } else if (path === '/app.js' || path === '/client.js') {
      res.writeHead(200, { ...noStore, 'content-type': 'text/javascript' });
      res.end(path === '/app.js' ? appJs : clientJs);
    } else if (path === '/plain/') {
      res.writeHead(200, { ...noStore, 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><html lang="en"><title>Page for a worker without the guardian</title></html>');
    } else if (path === '/' || path === '/index.html') {
      res.writeHead(200, { ...noStore, 'content-type': 'text/html; charset=utf-8' });
      res.end(indexHtml.replaceAll('%OTHER_ORIGIN%', `http://127.0.0.1:${otherPort}`).replaceAll('%REPORTS_URL%', reportsUrl));
    } else if (path === '/plain-sw.js') {
      // A worker without the guardian, for tests of calls that get no response.
      res.writeHead(200, { ...noStore, 'content-type': 'text/javascript' });
      res.end("self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));");
    } else if (options.extraRoutes?.(path, req, res) === true) {
      // Served by the extra routes.
    } else if (path === '/favicon.ico') {
      res.writeHead(204, noStore);
      res.end();
    } else if (path === '/callback') {
      // Only reached when no worker intercepted the redirect, for example after site data was cleared.
      res.writeHead(400, { ...noStore, 'content-type': 'text/plain' });
      res.end('The service worker did not handle this login callback. Go back to / and log in again.');
    } else {
      res.writeHead(404, { ...noStore, 'content-type': 'text/plain' });
      res.end('Not found');
    }
  });

  return {
    appUrl,
    issuer,
    apiUrl,
    reportsUrl,
    otherOrigin: `http://127.0.0.1:${otherPort}`,
    clientId,
    provider,
    api,
    reportsApi,
    otherRecords,
    issuerEchoRecords,
    workerConfig,
    close: async () => {
      await Promise.all([close(appServer), close(providerServer), close(otherServer), close(reportsServer)]);
    },
  };
}
