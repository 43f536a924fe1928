// The demo's service worker for an app that routes with Workbox. The guardian leaves requests to
// the API to Workbox, which sends them to guardian.handler. Workbox also caches static files and
// pages. startDemo({ workerScript: 'workbox-sw.js' }) serves it at /sw.js and prepends the
// configuration, as it does for sw.js.
import { NavigationRoute, registerRoute } from 'workbox-routing';
import { CacheFirst, NetworkFirst } from 'workbox-strategies';
import { installTokenGuardian, type GuardianConfig } from '../sw/index.ts';

declare const GUARDIAN_DEMO_CONFIG: GuardianConfig;

// The first registerRoute adds Workbox's fetch listener, so the guardian is installed before it:
// its listener then consumes the login callback and guards the token endpoint before any route
// receives those requests.
const guardian = installTokenGuardian({ ...GUARDIAN_DEMO_CONFIG, resourceRouting: 'router' });

// A Workbox route matches one method: GET, unless registerRoute is given another.
for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const) {
  registerRoute(guardian.matchResource, guardian.handler, method);
}

// Looser than the configured resource on purpose: this test also matches /apix, which is not
// under /api. The handler checks every request against `resources` itself and sends such
// requests on untouched.
registerRoute(({ url }) => url.pathname.startsWith('/api'), guardian.handler);

registerRoute(({ url }) => url.pathname.startsWith('/static/'), new CacheFirst({ cacheName: 'demo-static' }));

// Every navigation, the login callback's included. The guardian responds to the callback first,
// so this route never fetches it.
registerRoute(new NavigationRoute(new NetworkFirst({ cacheName: 'demo-pages' })));
