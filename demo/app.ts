// The demo page: connects to the guardian, shows its state and events, and calls the API
// with plain fetch.
import { connectTokenGuardian, type AuthState, type GuardianEvent } from '../client/index.ts';
import { Timeline } from './timeline.ts';

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`demo: #${id} is missing from index.html`);
  return found as T;
}

const statusView = element('status');
const userView = element('user');
const expiresView = element('expires');
const errorView = element('error');
const resultView = element('result');
const logView = element<HTMLUListElement>('log');

// The log survives the reloads of login and logout; its lines carry no token.
const logKey = 'sw-token-guardian-demo-log';
const maxLogLines = 200;
let currentState: AuthState | null = null;
let refreshesSucceeded = 0;

function addLogLine(text: string, kind: string): void {
  const item = document.createElement('li');
  item.className = kind;
  item.textContent = text;
  logView.prepend(item);
  while (logView.children.length > maxLogLines) logView.lastElementChild?.remove();
}

function log(text: string, kind = ''): void {
  const line = `${new Date().toLocaleTimeString()}  ${text}`;
  addLogLine(line, kind);
  const saved = JSON.parse(sessionStorage.getItem(logKey) ?? '[]') as Array<[string, string]>;
  saved.push([line, kind]);
  sessionStorage.setItem(logKey, JSON.stringify(saved.slice(-maxLogLines)));
}

function restoreLog(): void {
  const saved = JSON.parse(sessionStorage.getItem(logKey) ?? '[]') as Array<[string, string]>;
  for (const [line, kind] of saved) addLogLine(line, kind);
}

function showExpiry(): void {
  const expiresAt = currentState?.expiresAt ?? null;
  if (expiresAt === null) {
    expiresView.textContent = '–';
    return;
  }
  const time = new Date(expiresAt).toLocaleTimeString();
  expiresView.textContent = expiresAt > Date.now() ? time : `${time} (expired: the next call refreshes it)`;
}

function showState(state: AuthState): void {
  currentState = state;
  statusView.textContent = state.status;
  statusView.dataset.status = state.status;
  userView.textContent = state.user === null ? '–' : `${String(state.user.name ?? state.user.sub)} <${String(state.user.email ?? 'no email')}>`;
  errorView.textContent = state.error === null ? '–' : `${state.error.code}: ${state.error.message}`;
  showExpiry();
  element<HTMLButtonElement>('login').disabled = state.status === 'authenticated';
  element<HTMLButtonElement>('logout').disabled = state.status !== 'authenticated';
}

function describe(event: GuardianEvent): [string, string] {
  switch (event.type) {
    case 'state':
      return [`state: ${event.state.status}${event.state.error ? ` (${event.state.error.code})` : ''}`, 'state'];
    case 'refresh':
      return [`refresh #${event.refreshId} ${event.phase}${event.durationMs === undefined ? '' : ` in ${event.durationMs} ms`}${event.error ? `: ${event.error.code}` : ''}`, 'refresh'];
    case 'request':
      return [`${event.method} ${event.path} ${event.outcome}${event.status === undefined ? '' : ` → ${event.status}`} in ${event.durationMs} ms${event.error ? `: ${event.error.code}` : ''}`, event.outcome];
  }
}

function formatBody(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

async function callApi(path: string): Promise<void> {
  let response: Response;
  try {
    response = await fetch(path);
  } catch (error) {
    resultView.textContent = `${path}: no response (${(error as Error).message}). "Last error" above shows the reason the worker reported.`;
    return;
  }
  resultView.textContent = `${response.status} ${response.statusText}\n${formatBody(await response.text())}`;
}

async function burst(): Promise<void> {
  const refreshesBefore = refreshesSucceeded;
  const responses = await Promise.all(Array.from({ length: 20 }, (_, index) => fetch(`/api/items/${index}`)));
  const counts = new Map<number, number>();
  for (const response of responses) counts.set(response.status, (counts.get(response.status) ?? 0) + 1);
  const statuses = [...counts].map(([status, count]) => `${count} × ${status}`).join(', ');
  const refreshes = refreshesSucceeded - refreshesBefore;
  resultView.textContent = `Burst of 20: ${statuses}, ${refreshes} refresh${refreshes === 1 ? '' : 'es'}`;
}

async function callOtherOrigin(): Promise<void> {
  const origin = element('call-other').dataset.origin ?? '';
  const response = await fetch(`${origin}/hello`);
  const reply = (await response.json()) as { authorizationHeaderReceived: boolean };
  const verdict = reply.authorizationHeaderReceived ? 'it received an Authorization header' : 'it received no Authorization header';
  resultView.textContent = `${origin}/hello answered ${response.status}: ${verdict}, because it is not a configured resource.`;
}

function showFailure(error: unknown): void {
  const code = (error as { code?: string }).code ?? 'error';
  errorView.textContent = `${code}: ${(error as Error).message}`;
  log(`failed: ${code}`, 'failed');
}

restoreLog();
setInterval(showExpiry, 1000);
const timeline = new Timeline(element('timeline'));
// Exposed for tests, which replay a fixed event list into it.
(window as unknown as { demoTimeline: Timeline }).demoTimeline = timeline;

try {
  const guardian = await connectTokenGuardian({ scriptUrl: '/sw.js' });
  // Exposed for the console and for tests. The handle contains no token.
  (window as unknown as { demoGuardian: typeof guardian }).demoGuardian = guardian;
  // The buttons work before the first state is shown: tests and users act once a status appears.
  element('login').addEventListener('click', () => void guardian.login({ returnTo: '/' }).catch(showFailure));
  element('logout').addEventListener('click', () => void guardian.logout({ returnTo: '/' }).catch(showFailure));
  element('call').addEventListener('click', () => void callApi('/api/me').catch(showFailure));
  // Another origin with its own audience: the worker gets a second token from the same refresh token.
  element('call-reports').addEventListener('click', () => void callApi(`${element('call-reports').dataset.url ?? ''}/summary`).catch(showFailure));
  element('burst').addEventListener('click', () => void burst().catch(showFailure));
  // Every open tab of the demo starts its burst at the same moment, so the timeline shows the
  // requests of all tabs waiting on one refresh. A channel message does not reach its sender.
  const burstChannel = new BroadcastChannel('sw-token-guardian-demo-burst');
  burstChannel.addEventListener('message', () => void burst().catch(showFailure));
  element('burst-all').addEventListener('click', () => {
    burstChannel.postMessage('burst');
    void burst().catch(showFailure);
  });
  element('call-other').addEventListener('click', () => void callOtherOrigin().catch(showFailure));
  guardian.subscribe((event) => {
    timeline.record(event);
    if (event.type === 'state') showState(event.state);
    if (event.type === 'refresh' && event.phase === 'succeeded') refreshesSucceeded++;
    // A request that got no response rejects in the page with a bare TypeError. This tab's copy
    // of the event contains the reason, for example a CORS preflight that rejected the Authorization header.
    if (event.type === 'request' && event.ownTab && event.error !== undefined) errorView.textContent = `${event.error.code}: ${event.error.message}`;
    log(...describe(event));
  });
  const state = await guardian.getAuthState();
  timeline.setKnownStatus(state.status);
  showState(state);
} catch (error) {
  const code = (error as { code?: string }).code ?? 'error';
  statusView.textContent = `not connected (${code}): ${(error as Error).message}`;
}
