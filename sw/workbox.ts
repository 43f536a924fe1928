// The handle that `installTokenGuardian` returns, for apps whose own router, such as Workbox's,
// sends requests to resources to the guardian.
import type { RouteHandlerCallbackOptions, RouteHandlerObject } from 'workbox-core/types.js';
import { GuardianError } from './errors.ts';
import { findResource, type ResourceMatcher } from './resources.ts';

/** The part of a `FetchEvent`, or of the event a router passes on, that the guardian uses. */
export interface LifetimeEvent {
  waitUntil(promise: Promise<unknown>): void;
}

/** Returns the guardian's response to one request, or undefined for a request it leaves to the network. */
export type GuardianResponder = (request: Request, url: URL, event: LifetimeEvent) => Promise<Response> | undefined;

/** The handle `installTokenGuardian` returns: a matcher and a handler for the app's own router, without credentials. */
export interface TokenGuardianHandle {
  /**
   * A Workbox match callback: true for a request that is not a navigation and whose URL matches
   * a configured resource. A route matches one method, so register it for each method the
   * resources take.
   */
  matchResource: (options: { url: URL; request: Request }) => boolean;
  /**
   * A Workbox route handler object. `handle({ request, event })` responds to a request to a
   * configured resource as the guardian's fetch listener does: credentials, one refresh shared
   * by all requests, one retry after a 401, request events. It matches the request's own URL
   * against `resources`, whatever route matched, and sends any other request on untouched with
   * `fetch`. A login callback or token endpoint request routed here gets the listener's treatment.
   * Rejects with `invalid_argument` when `request` is not a `Request` or `event` has no `waitUntil`.
   */
  handler: RouteHandlerObject;
}

function describeValue(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  return value.constructor?.name ?? 'object';
}

/** Builds the handle over the configured resources and the guardian's `respond`, which the listener uses too. */
export function createTokenGuardianHandle(resources: readonly ResourceMatcher[], respond: GuardianResponder): TokenGuardianHandle {
  const matchResource = ({ url, request }: { url: URL; request: Request }) => request.mode !== 'navigate' && findResource(url, resources) !== undefined;

  const handle = (options: RouteHandlerCallbackOptions): Promise<Response> => {
    const request: unknown = options?.request;
    const event = options?.event as Partial<LifetimeEvent> | undefined;
    if (!(request instanceof Request) || typeof event?.waitUntil !== 'function') {
      const got = `request ${describeValue(request)} and event ${describeValue(event)}`;
      return Promise.reject(new GuardianError('invalid_argument', `sw-token-guardian: guardian.handler.handle expects { request, event } with a Request and the fetch event, as workbox-routing passes them; got ${got}`));
    }

    // The URL is parsed from the request itself, because a caller's `url` need not be where the
    // request goes.
    const url = new URL(request.url);
    return respond(request, url, event as LifetimeEvent) ?? fetch(request);
  };

  return Object.freeze({ matchResource, handler: Object.freeze({ handle }) });
}
