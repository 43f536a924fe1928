// Failure injection for the demo provider's token endpoint, for tests of how the guardian
// behaves when the provider is unreachable, slow, failing, or loses a response.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * - `none`: requests pass.
 * - `unreachable`: the connection is closed before any response, as when the provider is down.
 * - `status`: the endpoint responds with `status` (503 by default) and an optional `Retry-After`.
 * - `lose-response`: the provider processes the request, rotating the refresh token, and the
 *   connection is closed before the response leaves, as when a network drops it.
 */
export type FaultMode = 'none' | 'unreachable' | 'status' | 'lose-response';

export interface FaultSettings {
  mode: FaultMode;
  status?: number;
  retryAfterSeconds?: number;
  /** How many token requests meet the fault before requests pass again. Default: all. */
  count?: number;
  /** Delay before every token request is processed, in ms. */
  delayMs?: number;
  /** Delay between processing every token request and sending its response, in ms. */
  responseDelayMs?: number;
}

export class TokenEndpointFaults {
  #settings: FaultSettings = { mode: 'none' };
  #remaining = Infinity;
  /** Arrival times (epoch ms) of token endpoint requests. */
  readonly arrivals: number[] = [];

  set(settings: FaultSettings): void {
    this.#settings = settings;
    this.#remaining = settings.count ?? Infinity;
  }

  /** Applies the current fault to a request; returns true when the request should go on to the provider. */
  async apply(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    this.arrivals.push(Date.now());
    const settings = this.#settings;
    if (settings.delayMs) await new Promise((resolve) => setTimeout(resolve, settings.delayMs));
    if (settings.responseDelayMs) {
      const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
      res.end = ((...args: unknown[]) => {
        setTimeout(() => end(...args), settings.responseDelayMs);
        return res;
      }) as typeof res.end;
    }
    if (settings.mode === 'none' || this.#remaining <= 0) return true;
    this.#remaining--;

    switch (settings.mode) {
      case 'unreachable':
        req.socket.destroy();
        return false;
      case 'status': {
        // The worker calls the token endpoint cross-origin, so the response needs CORS headers,
        // and Retry-After is readable only when exposed.
        const headers: Record<string, string> = {
          'content-type': 'application/json',
          'access-control-allow-origin': req.headers.origin ?? '*',
          'access-control-expose-headers': 'retry-after',
        };
        if (settings.retryAfterSeconds !== undefined) headers['retry-after'] = String(settings.retryAfterSeconds);
        res.writeHead(settings.status ?? 503, headers);
        res.end(JSON.stringify({ error: 'temporarily_unavailable', error_description: 'injected by the demo provider' }));
        return false;
      }
      case 'lose-response':
        // The provider still runs the grant, but its response never arrives.
        res.end = (() => {
          req.socket.destroy();
          return res;
        }) as typeof res.end;
        return true;
    }
  }
}

interface GraceEntry {
  status: number;
  body: unknown;
  expiresAt: number;
}

/**
 * Koa middleware that lets a rotated refresh token be presented again for `graceSeconds`
 * and responds with the same successor tokens, the way providers with a reuse interval do.
 * It parses the token request itself, so oidc-provider reads the parsed body.
 */
export function refreshReuseGrace(graceSeconds: number) {
  const successors = new Map<string, GraceEntry>();

  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    if (ctx.method !== 'POST' || ctx.path !== '/token') return next();

    const chunks: Buffer[] = [];
    for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
    const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    (ctx.request as { body?: unknown }).body = params;
    const presented = params.grant_type === 'refresh_token' ? params.refresh_token : undefined;

    const cached = presented === undefined ? undefined : successors.get(presented);
    if (cached !== undefined && cached.expiresAt > Date.now()) {
      ctx.status = cached.status;
      ctx.body = cached.body;
      ctx.set('cache-control', 'no-store');
      // oidc-provider's CORS handling does not run for this response.
      const origin = ctx.get('origin');
      if (origin !== '') ctx.set('access-control-allow-origin', origin);
      return undefined;
    }

    await next();
    if (presented !== undefined && ctx.status === 200) {
      successors.set(presented, { status: ctx.status, body: ctx.body, expiresAt: Date.now() + graceSeconds * 1000 });
    }
    return undefined;
  };
}
