// The usual in-page pattern the benchmark compares against: tokens in localStorage and, per
// tab, a fetch wrapper with an `isRefreshing` flag and a queue of requests waiting for the
// refresh. It is written the way such wrappers commonly are, not hardened.
import * as oauth from 'oauth4webapi';

const issuer = new URL(document.documentElement.dataset.issuer!);
const client: oauth.Client = { client_id: document.documentElement.dataset.clientId! };
const redirectUri = `${location.origin}${location.pathname}`;
const options = { [oauth.allowInsecureRequests]: true };
let metadata: oauth.AuthorizationServer | undefined;

async function discover(): Promise<oauth.AuthorizationServer> {
  metadata ??= await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, options));
  return metadata;
}

function storeTokens(result: oauth.TokenEndpointResponse): void {
  localStorage.setItem('access_token', result.access_token);
  if (result.refresh_token !== undefined) localStorage.setItem('refresh_token', result.refresh_token);
}

async function login(): Promise<void> {
  const as = await discover();
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  sessionStorage.setItem('login', JSON.stringify({ verifier, state, nonce }));
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid offline_access api:read',
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url);
}

async function completeLogin(): Promise<void> {
  const as = await discover();
  const { verifier, state, nonce } = JSON.parse(sessionStorage.getItem('login')!) as Record<string, string>;
  const parameters = oauth.validateAuthResponse(as, client, new URL(location.href), state!);
  const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), parameters, redirectUri, verifier!, options);
  storeTokens(await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce! }));
  history.replaceState(null, '', location.pathname);
}

async function refresh(): Promise<void> {
  const as = await discover();
  const response = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), localStorage.getItem('refresh_token')!, options);
  storeTokens(await oauth.processRefreshTokenResponse(as, client, response));
}

let isRefreshing = false;
let queue: Array<{ resolve: () => void; reject: () => void }> = [];

async function baselineFetch(path: string): Promise<number> {
  const send = () => fetch(path, { headers: { authorization: `Bearer ${localStorage.getItem('access_token')}` } });
  const first = await send();
  if (first.status !== 401) return first.status;

  if (isRefreshing) {
    try {
      await new Promise<void>((resolve, reject) => queue.push({ resolve, reject }));
    } catch {
      return 401;
    }
    return (await send()).status;
  }

  isRefreshing = true;
  let refreshed = false;
  try {
    await refresh();
    refreshed = true;
  } catch {
    localStorage.removeItem('access_token');
    localStorage.removeItem('refresh_token');
  }
  isRefreshing = false;
  const waiting = queue;
  queue = [];
  for (const entry of waiting) {
    if (refreshed) entry.resolve();
    else entry.reject();
  }
  return refreshed ? (await send()).status : 401;
}

Object.assign(window, { baselineLogin: login, baselineFetch });
const ready = new URL(location.href).searchParams.has('code') ? completeLogin() : Promise.resolve();
ready.then(
  () => document.documentElement.setAttribute('data-ready', localStorage.getItem('access_token') === null ? 'logged-out' : 'logged-in'),
  (error: unknown) => document.documentElement.setAttribute('data-ready', `error: ${String(error)}`),
);
