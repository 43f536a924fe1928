// The demo page: connects to the guardian, shows its state and events, and calls the API
// with plain fetch.
import { connectTokenGuardian, type AuthState, type GuardianEvent } from '../client/index.ts';

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

function log(text: string, kind = ''): void {
  const item = document.createElement('li');
  item.className = kind;
  item.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  logView.prepend(item);
  while (logView.children.length > 200) logView.lastElementChild?.remove();
}

function showState(state: AuthState): void {
  statusView.textContent = state.status;
  statusView.dataset.status = state.status;
  userView.textContent = state.user === null ? '–' : `${String(state.user.name ?? state.user.sub)} <${String(state.user.email ?? 'no email')}>`;
  expiresView.textContent = state.expiresAt === null ? '–' : new Date(state.expiresAt).toLocaleTimeString();
  errorView.textContent = state.error === null ? '–' : `${state.error.code}: ${state.error.message}`;
  element<HTMLButtonElement>('login').disabled = state.status === 'authenticated';
  element<HTMLButtonElement>('logout').disabled = state.status !== 'authenticated';
}

function describe(event: GuardianEvent): [string, string] | null {
  switch (event.type) {
    case 'state':
      return [`state: ${event.state.status}${event.state.error ? ` (${event.state.error.code})` : ''}`, 'state'];
    case 'refresh':
      return [`refresh #${event.refreshId} ${event.phase}${event.durationMs === undefined ? '' : ` in ${event.durationMs} ms`}${event.error ? `: ${event.error.code}` : ''}`, 'refresh'];
    case 'request':
      return [`${event.method} ${event.path} ${event.outcome}${event.status === undefined ? '' : ` → ${event.status}`}`, event.outcome];
  }
}

async function callApi(path: string): Promise<void> {
  const response = await fetch(path);
  resultView.textContent = `${response.status} ${response.statusText}\n${await response.text()}`;
}

try {
  const guardian = await connectTokenGuardian({ scriptUrl: '/sw.js' });
  // Exposed for the console and for tests. The handle contains no token.
  (window as unknown as { demoGuardian: typeof guardian }).demoGuardian = guardian;
  guardian.subscribe((event) => {
    if (event.type === 'state') showState(event.state);
    const line = describe(event);
    if (line !== null) log(...line);
  });
  showState(await guardian.getAuthState());

  element('login').addEventListener('click', () => void guardian.login({ returnTo: '/' }));
  element('logout').addEventListener('click', () => void guardian.logout({ returnTo: '/' }));
  element('call').addEventListener('click', () => void callApi('/api/me'));
  element('burst').addEventListener('click', async () => {
    const responses = await Promise.all(Array.from({ length: 20 }, (_, index) => fetch(`/api/items/${index}`)));
    const counts = new Map<number, number>();
    for (const response of responses) counts.set(response.status, (counts.get(response.status) ?? 0) + 1);
    resultView.textContent = `Burst of 20: ${[...counts].map(([status, count]) => `${count} × ${status}`).join(', ')}`;
  });
  element('call-other').addEventListener('click', async () => {
    const origin = element('call-other').dataset.origin ?? '';
    const response = await fetch(`${origin}/hello`);
    resultView.textContent = `${origin}: ${response.status}, sent without credentials`;
  });
} catch (error) {
  const code = (error as { code?: string }).code ?? 'error';
  statusView.textContent = `not connected (${code}): ${(error as Error).message}`;
}
