// Pages and workers the benchmark serves on the demo's app origin.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';

const assetCount = 30;

function send(res: ServerResponse, type: string, body: string, headers: Record<string, string> = {}): true {
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(body);
  return true;
}

export function benchRoutes(issuer: () => string, clientId: string, baselineBundlePath: string) {
  return (path: string, _req: IncomingMessage, res: ServerResponse): boolean => {
    if (path === '/bench/page.html') return send(res, 'text/html; charset=utf-8', '<!doctype html><html lang="en"><title>bench</title></html>');
    if (path === '/bench/passthrough-sw.js') {
      // The floor of any service-worker design: every request goes through respondWith(fetch()).
      return send(
        res,
        'text/javascript',
        "self.addEventListener('install', () => self.skipWaiting());\n" +
          "self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));\n" +
          "self.addEventListener('fetch', (event) => event.respondWith(fetch(event.request)));",
        // The script lives under /bench/ but controls the whole origin, like the guardian's.
        { 'service-worker-allowed': '/' },
      );
    }
    if (path === '/bench/assets.html') {
      const scripts = Array.from({ length: assetCount }, (_, index) => `<script src="/bench/asset/${index}.js"></script>`).join('\n');
      return send(res, 'text/html; charset=utf-8', `<!doctype html><html lang="en"><title>assets</title>${scripts}</html>`);
    }
    if (path.startsWith('/bench/asset/')) return send(res, 'text/javascript', `window.loaded = (window.loaded || 0) + 1; // ${'x'.repeat(2000)}`);
    if (path === '/bench/baseline.html') {
      return send(
        res,
        'text/html; charset=utf-8',
        `<!doctype html><html lang="en" data-issuer="${issuer()}" data-client-id="${clientId}"><title>baseline</title><script type="module" src="/bench/baseline.js"></script></html>`,
      );
    }
    if (path === '/bench/baseline.js') return send(res, 'text/javascript', readFileSync(baselineBundlePath, 'utf8'));
    return false;
  };
}
