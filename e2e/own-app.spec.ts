// An app on an origin of its own uses the demo's provider and APIs, as a developer does with
// `DEMO_APP_ORIGINS` while trying the guardian in their app. The page and worker are the demo's
// builds, served from that other origin with a configuration for it.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startDemo, type DemoServers } from '../demo/server.ts';
import { expect, fetchMany, test } from './fixtures.ts';

const distDir = fileURLToPath(new URL('../dist/demo/', import.meta.url));

let ownApp: Server;
let ownOrigin = '';
let demo: DemoServers;

/** Serves the demo page and a worker configured for `ownOrigin`, calling the demo's APIs. */
async function serveOwnApp(server: Server): Promise<void> {
  const read = (name: string) => readFile(`${distDir}${name}`, 'utf8');
  const [indexHtml, appJs, swJs] = await Promise.all([read('index.html'), read('app.js'), read('sw.js')]);
  server.on('request', (req, res) => {
    const path = new URL(req.url ?? '/', ownOrigin).pathname;
    const config = {
      issuer: demo.issuer,
      clientId: demo.clientId,
      redirectUri: `${ownOrigin}/callback`,
      postLogoutRedirectUri: `${ownOrigin}/`,
      scope: 'openid offline_access profile email',
      resources: [
        { url: demo.apiUrl, resource: demo.apiUrl, scope: 'api:read api:write' },
        { url: demo.reportsUrl, resource: demo.reportsUrl, scope: 'reports:read' },
      ],
      allowInsecureRequests: true,
      requestEvents: true,
    };
    const bodies: Record<string, [string, string]> = {
      '/': ['text/html; charset=utf-8', indexHtml.replaceAll('%OTHER_ORIGIN%', demo.otherOrigin).replaceAll('%REPORTS_URL%', demo.reportsUrl)],
      '/app.js': ['text/javascript', appJs],
      '/sw.js': ['text/javascript', `const GUARDIAN_DEMO_CONFIG = ${JSON.stringify(config)};\n${swJs}`],
    };
    const body = bodies[path];
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': body?.[0] ?? 'text/plain', 'cache-control': 'no-store' });
    res.end(body?.[1] ?? 'Not found');
  });
}

test.beforeEach(async () => {
  ownApp = createServer();
  await new Promise<void>((resolve) => ownApp.listen(0, 'localhost', resolve));
  ownOrigin = `http://localhost:${(ownApp.address() as AddressInfo).port}`;
  demo = await startDemo({ extraAppOrigins: [ownOrigin] });
  await serveOwnApp(ownApp);
});

test.afterEach(async () => {
  ownApp.closeAllConnections();
  await new Promise((resolve) => ownApp.close(resolve));
  await demo.close();
});

test('own app on another origin logs in and calls both APIs', async ({ page }) => {
  await page.goto(`${ownOrigin}/`);
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'unauthenticated');
  await page.click('#login');
  await page.waitForURL(`${demo.issuer}/interaction/**`);
  await page.fill('input[name=username]', 'alice');
  await page.fill('input[name=password]', 'wonderland');
  await page.click('#sign-in');
  await page.waitForURL(`${ownOrigin}/`);
  await expect(page.locator('#status')).toHaveAttribute('data-status', 'authenticated');

  // Both APIs are on other origins than this app, so both calls pass CORS preflights.
  expect(await fetchMany(page, `${demo.apiUrl}/me`, 2)).toEqual([200, 200]);
  expect(await fetchMany(page, `${demo.reportsUrl}/summary`, 2)).toEqual([200, 200]);
  expect(demo.api.records.map((record) => record.tokenAudience)).toEqual([demo.apiUrl, demo.apiUrl]);
  expect(demo.reportsApi.records.map((record) => record.tokenAudience)).toEqual([demo.reportsUrl, demo.reportsUrl]);
  expect(demo.api.preflights).toBeGreaterThan(0);
});
