/// <reference lib="webworker" />
// Public entry point of the service-worker side: `installTokenGuardian(config)`.
import { expose } from 'comlink';
import { clientsClaim, skipWaiting } from 'workbox-core';
import { resolveConfig, type GuardianConfig, type ResolvedConfig } from './config.ts';
import { GuardianError } from './errors.ts';
import { warn } from './log.ts';
import { LoginFlow, safeReturnPath } from './login.ts';
import { installErrorTransfer, MessageType, type GuardianApi, type GuardianEvent, type LogoutResult } from './protocol.ts';
import { ProviderClient } from './provider.ts';
import { fetchResource } from './resource-fetch.ts';
import { findResource, type ResourceMatcher } from './resources.ts';
import { SealedStore } from './sealed-store.ts';
import { SessionStore } from './session-store.ts';
import type { RefreshLock } from './refresh-round.ts';
import { SessionManager } from './session.ts';
import { TransactionStore } from './transactions.ts';
import { createTokenGuardianHandle, type LifetimeEvent, type TokenGuardianHandle } from './workbox.ts';

export type { GuardianConfig } from './config.ts';
export type { ResourceConfig } from './resources.ts';
export { GuardianError, type GuardianErrorCode, type ErrorInfo } from './errors.ts';
export type { AuthState, AuthStatus, GuardianEvent, UserClaims } from './protocol.ts';
export type { TokenGuardianHandle } from './workbox.ts';

declare const self: ServiceWorkerGlobalScope;

let installed = false;

function broadcast(event: GuardianEvent): void {
  const message = { type: MessageType.event, event };
  self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then(
    (clients) => {
      for (const client of clients) {
        // Each tab learns which request events are its own, without knowing its client ID.
        if (event.type === 'request') client.postMessage({ ...message, event: { ...event, ownTab: client.id === event.clientId } });
        else client.postMessage(message);
      }
    },
    (error: unknown) => warn(`sending a ${event.type} event to the pages failed`, error),
  );
}

/**
 * Rejects a page's POST to the provider's token endpoint with 403, so no page script can redeem
 * a code or refresh token. Any other request goes on through `proceed`.
 */
function tokenEndpointGuard(provider: ProviderClient, request: Request, url: URL, proceed: () => Promise<Response>): Promise<Response> {
  return provider.metadata().then(
    (metadata) => {
      const tokenEndpoint = metadata.token_endpoint === undefined ? null : new URL(metadata.token_endpoint);
      if (tokenEndpoint === null || url.origin !== tokenEndpoint.origin || url.pathname !== tokenEndpoint.pathname) {
        return proceed();
      }
      const body = { error: 'access_denied', error_description: 'sw-token-guardian: pages may not call the token endpoint, because the service worker owns the tokens' };
      return new Response(JSON.stringify(body), { status: 403, headers: { 'content-type': 'application/json' } });
    },
    // Without metadata the worker cannot tell whether this is the token endpoint, so it refuses.
    (error: unknown) => {
      warn('token endpoint guard: discovery failed, so the request was refused', error);
      return new Response(null, { status: 503, statusText: 'Provider metadata unavailable' });
    },
  );
}

function guardsTokenEndpoint(config: ResolvedConfig, provider: ProviderClient, url: URL): boolean {
  if (url.origin === config.issuer.origin) return true;
  const tokenEndpoint = provider.knownMetadata?.token_endpoint;
  return tokenEndpoint !== undefined && new URL(tokenEndpoint).origin === url.origin;
}

/** ID of the tab behind a fetch event, or `''` for an event that has none, such as a message. */
function clientIdOf(event: LifetimeEvent): string {
  return 'clientId' in event && typeof event.clientId === 'string' ? event.clientId : '';
}

/**
 * Returns a lock shared by every worker instance of the origin, or undefined where the browser
 * has no Web Locks API; refreshes are then serialized within one instance only.
 */
function webLock(timeoutMs: number): RefreshLock | undefined {
  const locks = (self.navigator as Partial<WorkerNavigator>).locks;
  if (locks === undefined) return undefined;
  return (task) => locks.request('sw-token-guardian:refresh', { signal: AbortSignal.timeout(timeoutMs) }, () => task());
}

/**
 * Installs the guardian in the calling service worker. Call it once, synchronously, at the top
 * level of the worker script, before Workbox's `registerRoute` and any other fetch listener, so
 * its `fetch` and `message` listeners are registered first. Returns the matcher and handler for
 * an app that routes resource requests itself (`resourceRouting: 'router'`).
 * Throws a `GuardianError` with code `invalid_config` naming the field and the fix.
 */
export function installTokenGuardian(config: GuardianConfig): TokenGuardianHandle {
  if (installed) {
    throw new GuardianError('invalid_config', 'sw-token-guardian: installTokenGuardian was called twice; call it once at the top level of the worker script');
  }
  const resolved = resolveConfig(config, self.registration.scope);
  installed = true;

  skipWaiting();
  clientsClaim();
  installErrorTransfer();

  const provider = new ProviderClient(resolved);
  const storage = new SealedStore();
  // A round takes at most 3 attempts and 2 pauses of at most 10 s. A longer wait means the
  // holder is stuck, so the waiter gives up with a timeout.
  const lock = webLock(3 * resolved.providerTimeoutMs + 20_000);
  const sessions = new SessionManager({
    refresher: provider,
    tokenTargets: resolved.tokenTargets,
    persistence: new SessionStore(storage, resolved.persistence, (message) => warn(message)),
    refreshLeewaySeconds: resolved.refreshLeewaySeconds,
    emit: broadcast,
    waitLimitMs: resolved.providerTimeoutMs,
    ...(lock === undefined ? {} : { lock }),
  });
  const login = new LoginFlow(resolved, provider, new TransactionStore(storage), sessions);
  // Without requestEvents, pages still get the events of requests that failed with an error,
  // because a page's fetch receives only a bare TypeError or a 503.
  const emitRequestEvents = resolved.requestEvents
    ? broadcast
    : (event: GuardianEvent) => {
        if (event.type === 'request' && event.error !== undefined) broadcast(event);
      };

  // Discovery starts early so that the token endpoint guard has the endpoint's origin.
  provider.metadata().catch((error: unknown) => warn('discovery failed; it is tried again on the next login or refresh', error));

  if (resolved.dpop === true) {
    // `dpop: true` against a provider without DPoP fails the installation, so a running worker
    // and its session stay in place.
    self.addEventListener('install', (event) => {
      const check = provider.usesDpop().catch((error: unknown) => {
        warn('installation failed', error);
        throw error;
      });
      event.waitUntil(check);
    });
  }

  // The one call that sends a page's request to a resource, for the fetch listener and for
  // guardian.handler alike.
  const sendToResource = (request: Request, url: URL, event: LifetimeEvent, resource: ResourceMatcher) =>
    fetchResource(request, url, {
      sessions,
      target: resource.target,
      provider,
      waitUntil: (promise) => event.waitUntil(promise),
      emit: emitRequestEvents,
      clientId: clientIdOf(event),
    });

  /**
   * Responds to one request: consumes the login callback, guards the token endpoint, or, when
   * `answerResources` is set, sends a request to a resource with credentials. Returns undefined
   * for a request the guardian leaves to the network.
   */
  const respond = (request: Request, url: URL, event: LifetimeEvent, answerResources: boolean): Promise<Response> | undefined => {
    if (request.mode === 'navigate') {
      return request.method === 'GET' && login.isCallback(url) ? login.handleCallback(url) : undefined;
    }
    const resource = findResource(url, resolved.resources);
    const isResource = resource !== undefined;
    if (request.method === 'POST' && guardsTokenEndpoint(resolved, provider, url)) {
      // A resource may share the provider's origin, so its requests still get credentials.
      const proceed = isResource ? () => sendToResource(request, url, event, resource) : () => fetch(request);
      return tokenEndpointGuard(provider, request, url, proceed);
    }
    if (!isResource || !answerResources) return undefined;
    // Until the stored session is read, the worker cannot tell synchronously whether one exists.
    if (sessions.loaded && sessions.current === null) return undefined;

    return sendToResource(request, url, event, resource);
  };

  self.addEventListener('fetch', (event) => {
    const response = respond(event.request, new URL(event.request.url), event, resolved.resourceRouting === 'listener');
    // respondWith also stops the event from reaching later fetch listeners, such as the one
    // Workbox's router adds, so their routes never run for a request the guardian responds to.
    if (response !== undefined) event.respondWith(response);
  });

  self.addEventListener('message', (event) => {
    const data = event.data as { type?: unknown } | null;
    if (data?.type === MessageType.claim) {
      event.waitUntil(self.clients.claim());
      return;
    }
    if (data?.type === MessageType.online) {
      event.waitUntil(sessions.ready().then(() => sessions.resumeRefreshing()));
      return;
    }
    if (data?.type !== MessageType.connect) return;

    const port = event.ports[0];
    if (port === undefined) return;
    const clientId = event.source instanceof Client ? event.source.id : null;
    const api: GuardianApi = {
      getAuthState: async () => {
        await sessions.ready();
        return sessions.authState();
      },
      beginLogin: async (options) => {
        try {
          return { authorizationUrl: (await login.begin(options?.returnTo)).href };
        } catch (error) {
          // The call rejects, and every tab also receives the error in its auth state.
          if (error instanceof GuardianError) sessions.reportError(error);
          throw error;
        }
      },
      logout: (options) => logout(clientId, options?.returnTo),
    };
    expose(api, port);
  });

  async function logout(clientId: string | null, returnTo: unknown): Promise<LogoutResult> {
    const path = safeReturnPath(returnTo, self.location.origin);
    await sessions.ready();
    const dropped = await sessions.signOut('unauthenticated');
    if (dropped === null) return { redirecting: false, returnTo: path };

    if (dropped.refreshToken !== undefined) {
      // A failed revocation must not keep the user signed in; the session is already gone here.
      await provider.revoke(dropped.refreshToken, 'refresh_token').catch((error: unknown) => warn('logout: revoking the refresh token failed', error));
    }

    const endSession = await provider.endSessionUrl(dropped.idToken).catch((error: unknown) => {
      warn('logout: discovery failed, so the provider session is left open', error);
      return null;
    });
    const client = clientId === null ? undefined : await self.clients.get(clientId);
    if (endSession === null || !(client instanceof WindowClient)) return { redirecting: false, returnTo: path };

    // The URL carries the ID token as id_token_hint, so the worker navigates the tab itself
    // instead of handing the URL to the page. The navigation starts after this call returns.
    setTimeout(() => {
      client.navigate(endSession.href).catch((error: unknown) => warn('logout: navigating the tab to the end-session endpoint failed', error));
    }, 0);
    return { redirecting: true, returnTo: path };
  }

  return createTokenGuardianHandle(resolved.resources, (request, url, event) => respond(request, url, event, true));
}
