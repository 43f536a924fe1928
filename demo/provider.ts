// The demo's OpenID Provider: oidc-provider with a public PKCE client, refresh-token rotation,
// short-lived JWT access tokens for the demo API, and a plain login page.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { MemoryAdapter } from './memory-adapter.ts';
import { refreshReuseGrace, TokenEndpointFaults } from './token-endpoint-faults.ts';

export interface DemoAccount {
  password: string;
  claims: { sub: string; name: string; email: string; email_verified: boolean };
}

export const demoAccounts: Record<string, DemoAccount> = {
  alice: { password: 'wonderland', claims: { sub: 'alice', name: 'Alice Liddell', email: 'alice@example.com', email_verified: true } },
  bob: { password: 'builder', claims: { sub: 'bob', name: 'Bob Builder', email: 'bob@example.com', email_verified: true } },
};

export interface ProviderOptions {
  issuer: string;
  appOrigin: string;
  clientId: string;
  /**
   * The resource servers, by RFC 8707 resource indicator, with the scopes each one defines. The
   * first is the default for token requests that name no resource.
   */
  resourceServers: Array<{ audience: string; scope: string }>;
  accessTokenTtlSeconds: number;
  /** Offers DPoP (RFC 9449). Default true. */
  dpop?: boolean;
  /** Demands a server-issued DPoP nonce at the token endpoint. Default false. */
  requireDpopNonce?: boolean;
  /** Accepts a rotated refresh token again for this many seconds. Default 0: reuse revokes the grant. */
  refreshReuseGraceSeconds?: number;
  /** Registered redirect URIs. Default: `<appOrigin>/callback`. */
  redirectUris?: string[];
  /**
   * Origins of other apps that may use the demo client: each gets `<origin>/callback` as a
   * redirect URI, `<origin>/` as a post-logout redirect URI, and CORS. Default none.
   */
  extraAppOrigins?: string[];
}

/** Secrets the provider issued or received, kept so tests can search page-readable places for them. */
export interface IssuedSecrets {
  accessTokens: string[];
  refreshTokens: string[];
  idTokens: string[];
  codes: string[];
  codeVerifiers: string[];
}

export interface ProviderCounters {
  authorizationCodeGrants: number;
  refreshGrants: number;
  /** Token endpoint requests that ended in an OAuth error, by error code. */
  grantErrors: Record<string, number>;
  revocations: number;
  /** Grants revoked by the provider, for example by refresh token reuse detection. */
  grantsRevoked: number;
}

export interface DemoProvider {
  provider: Provider;
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  counters: ProviderCounters;
  secrets: IssuedSecrets;
  faults: TokenEndpointFaults;
}

let signingKey: Promise<Record<string, unknown>> | null = null;

// One ES256 key per process is enough for a demo; generating one per provider slows tests down.
function demoSigningKey(): Promise<Record<string, unknown>> {
  signingKey ??= (async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    return { ...(await exportJWK(privateKey)), kid: 'demo-es256', use: 'sig', alg: 'ES256' };
  })();
  return signingKey;
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function loginPage(uid: string, error: string | null): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo provider: sign in</title>
<style>body{font:16px system-ui,sans-serif;max-width:22rem;margin:4rem auto}label,input,button{display:block;width:100%;margin:.4rem 0}
input{padding:.5rem}button{padding:.6rem;background:#2457c5;color:#fff;border:0;border-radius:4px}.error{color:#b00020}</style></head>
<body><h1>Demo provider</h1><p>Sign in as <code>alice</code> / <code>wonderland</code>.</p>
${error === null ? '' : `<p class="error" role="alert">${escapeHtml(error)}</p>`}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>Username <input name="username" autocomplete="username" autofocus required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="sign-in">Sign in</button></form>
<form method="post" action="/interaction/${escapeHtml(uid)}/cancel"><button type="submit" id="cancel">Cancel</button></form></body></html>`;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 16_384) throw new Error('login form larger than 16 KiB');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

async function handleInteraction(provider: Provider, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    sendHtml(res, 200, loginPage(details.uid, null));
    return;
  }
  if (req.method === 'POST' && url.pathname.endsWith('/cancel')) {
    const result = { error: 'access_denied', error_description: 'The user cancelled the login.' };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    return;
  }
  if (req.method !== 'POST' || !url.pathname.endsWith('/login')) {
    sendHtml(res, 405, 'Method not allowed');
    return;
  }

  const form = await readForm(req);
  const username = form.get('username') ?? '';
  const account = demoAccounts[username];
  if (account === undefined || account.password !== form.get('password')) {
    sendHtml(res, 401, loginPage(details.uid, 'Invalid username or password.'));
    return;
  }
  await provider.interactionFinished(req, res, { login: { accountId: username } }, { mergeWithLastSubmission: false });
}

function recordTokenTraffic(ctx: KoaContextWithOIDC, counters: ProviderCounters, secrets: IssuedSecrets): void {
  const params = (ctx.oidc?.params ?? {}) as Record<string, unknown>;
  const body = (typeof ctx.body === 'object' && ctx.body !== null ? ctx.body : {}) as Record<string, unknown>;

  if (typeof params.code === 'string') secrets.codes.push(params.code);
  if (typeof params.code_verifier === 'string') secrets.codeVerifiers.push(params.code_verifier);
  if (typeof body.access_token === 'string') secrets.accessTokens.push(body.access_token);
  if (typeof body.refresh_token === 'string') secrets.refreshTokens.push(body.refresh_token);
  if (typeof body.id_token === 'string') secrets.idTokens.push(body.id_token);

  if (ctx.status >= 400 && typeof body.error === 'string') {
    counters.grantErrors[body.error] = (counters.grantErrors[body.error] ?? 0) + 1;
    return;
  }
  if (params.grant_type === 'authorization_code') counters.authorizationCodeGrants++;
  if (params.grant_type === 'refresh_token') counters.refreshGrants++;
}

/** Creates the provider and a request handler that serves it together with its login page. */
export async function createDemoProvider(options: ProviderOptions): Promise<DemoProvider> {
  const counters: ProviderCounters = { authorizationCodeGrants: 0, refreshGrants: 0, grantErrors: {}, revocations: 0, grantsRevoked: 0 };
  const secrets: IssuedSecrets = { accessTokens: [], refreshTokens: [], idTokens: [], codes: [], codeVerifiers: [] };

  const extraOrigins = options.extraAppOrigins ?? [];
  const configuration: Configuration = {
    adapter: MemoryAdapter.forStore(new Map()),
    clients: [
      {
        client_id: options.clientId,
        token_endpoint_auth_method: 'none',
        application_type: 'web',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [...(options.redirectUris ?? [`${options.appOrigin}/callback`]), ...extraOrigins.map((origin) => `${origin}/callback`)],
        post_logout_redirect_uris: [options.appOrigin, ...extraOrigins].map((origin) => `${origin}/`),
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [await demoSigningKey()] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
    // Put profile and email claims in the ID token, where the guardian reads the user from.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    // With DPoP, oidc-provider stops rotating sender-constrained refresh tokens by default;
    // rotation stays on so the demo exercises it.
    rotateRefreshToken: () => true,
    // oidc-provider drops offline_access unless the request also contains prompt=consent, so
    // this first-party client gets a refresh token without that scope.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    clientBasedCORS: (_ctx, origin) => origin === options.appOrigin || extraOrigins.includes(origin),
    // oidc-provider's own error page loads a web font from the internet; the demo stays on loopback.
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      const details = Object.entries(out)
        .map(([name, value]) => `<dt>${escapeHtml(name)}</dt><dd>${escapeHtml(String(value))}</dd>`)
        .join('');
      ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Provider error</title></head><body><h1>The provider could not process this request</h1><dl>${details}</dl></body></html>`;
    },
    ttl: {
      AccessToken: options.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Grant: 14 * 24 * 3600,
      RefreshToken: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
    },
    features: {
      devInteractions: { enabled: false },
      dPoP: {
        enabled: options.dpop ?? true,
        nonceSecret: randomBytes(32),
        requireNonce: () => options.requireDpopNonce ?? false,
      },
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        // Sign out without the confirmation step, which a demo does not need.
        logoutSource: async (ctx, form) => {
          ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signing out</title></head><body>
<p>Signing out…</p>${form.replace('</form>', '<input type="hidden" name="logout" value="yes"></form>')}
<script>document.forms[0].submit()</script></body></html>`;
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.resourceServers[0]!.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          const server = options.resourceServers.find((candidate) => candidate.audience === indicator);
          if (server === undefined) throw new errors.InvalidTarget(`this provider knows no resource server ${indicator}`);
          return {
            scope: server.scope,
            audience: server.audience,
            accessTokenTTL: options.accessTokenTtlSeconds,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx, id) => {
      const account = demoAccounts[id];
      if (account === undefined) return undefined;
      return { accountId: id, claims: () => account.claims };
    },
    // First-party app: grant every requested scope without a consent screen.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      const existing = grantId === undefined ? undefined : await ctx.oidc.provider.Grant.find(grantId);
      const grant = existing ?? new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope('openid offline_access profile email');
      for (const server of options.resourceServers) grant.addResourceScope(server.audience, server.scope);
      await grant.save();
      return grant;
    },
  };

  const provider = new Provider(options.issuer, configuration);
  provider.on('grant.revoked', () => counters.grantsRevoked++);
  if (options.refreshReuseGraceSeconds) provider.use(refreshReuseGrace(options.refreshReuseGraceSeconds));
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'token') recordTokenTraffic(ctx as KoaContextWithOIDC, counters, secrets);
    if (ctx.oidc?.route === 'revocation' && ctx.status === 200) counters.revocations++;
  });

  const callback = provider.callback();
  const faults = new TokenEndpointFaults();
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', options.issuer);
    if (url.pathname === '/token' && req.method === 'POST') {
      void faults.apply(req, res).then((proceed) => {
        if (proceed) callback(req, res);
      });
      return;
    }
    if (!url.pathname.startsWith('/interaction/')) {
      callback(req, res);
      return;
    }
    handleInteraction(provider, req, res, url).catch((error: unknown) => {
      if (!res.headersSent) sendHtml(res, 400, `Login failed: ${escapeHtml(String(error))}. Start again from the app.`);
      else res.end();
    });
  };

  return { provider, handle, counters, secrets, faults };
}
