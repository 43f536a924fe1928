// Public entry point of the page side: `connectTokenGuardian(options)`.
import { releaseProxy, wrap } from 'comlink';
import { GuardianError } from '../sw/errors.ts';
import {
  installErrorTransfer,
  isEventMessage,
  MessageType,
  type AuthState,
  type GuardianApi,
  type GuardianEvent,
  type LoginOptions,
  type LogoutOptions,
  type LogoutResult,
} from '../sw/protocol.ts';

export { GuardianError, type GuardianErrorCode, type ErrorInfo } from '../sw/errors.ts';
export type { AuthState, AuthStatus, GuardianEvent, UserClaims, LoginOptions, LogoutOptions, LogoutResult, RequestOutcome } from '../sw/protocol.ts';

export interface ConnectOptions {
  /** URL of the app's service worker script, which calls `installTokenGuardian`. */
  scriptUrl: string;
  /** Registration scope; defaults to the script's folder. */
  scope?: string;
  /** `module` for a worker script that uses `import`. Default `classic`. */
  type?: WorkerType;
  /** Upper bound, in milliseconds, on registration, activation, taking control, and each call. Default 10000. */
  timeoutMs?: number;
}

export interface TokenGuardian {
  /** Sends the browser to the provider's login page. Resolves just before the page navigates away. */
  login(options?: LoginOptions): Promise<void>;
  /**
   * Ends the session in every tab and revokes the refresh token. When the provider has an
   * end-session endpoint, the worker navigates this tab there; otherwise, when `returnTo` was
   * given, the page goes to it.
   */
  logout(options?: LogoutOptions): Promise<LogoutResult>;
  getAuthState(): Promise<AuthState>;
  /** Calls `listener` with every event from the worker until the returned function is called. */
  subscribe(listener: (event: GuardianEvent) => void): () => void;
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, code: 'timeout' | 'not_controlled' | 'registration_failed', operation: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GuardianError(code, `sw-token-guardian: ${operation} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function waitForActivation(registration: ServiceWorkerRegistration): Promise<ServiceWorker> {
  if (registration.active !== null) return Promise.resolve(registration.active);
  const worker = registration.installing ?? registration.waiting;
  if (worker === null) {
    return Promise.reject(new GuardianError('registration_failed', 'sw-token-guardian: the registration has no installing, waiting or active worker'));
  }
  return new Promise((resolve, reject) => {
    worker.addEventListener('statechange', () => {
      if (worker.state === 'activated') resolve(worker);
      if (worker.state === 'redundant') {
        reject(new GuardianError('registration_failed', 'sw-token-guardian: the worker became redundant before activating, because its installation failed or a newer worker replaced it; installTokenGuardian reports configuration errors in the worker console'));
      }
    });
  });
}

async function takeControl(worker: ServiceWorker): Promise<void> {
  const container = navigator.serviceWorker;
  if (container.controller !== null) return;

  const controlled = new Promise<void>((resolve) => container.addEventListener('controllerchange', () => resolve(), { once: true }));
  // A hard reload leaves the page uncontrolled until the worker claims it.
  worker.postMessage({ type: MessageType.claim });
  await controlled;
}

/**
 * Turns a rejected `register()` into a `GuardianError`. Browsers raise `SecurityError` both
 * where a profile or policy forbids service workers and for an app's own mistakes (a script
 * served with a non-JavaScript MIME type, a scope wider than the script's folder). The
 * browser's message is the only way to tell these apart, so the known mistakes are matched on
 * it and everything else counts as `unsupported`.
 */
function registrationError(error: unknown, scriptUrl: string): GuardianError {
  const reason = (error as Error)?.message ?? String(error);
  const failed = (fix: string) => new GuardianError('registration_failed', `sw-token-guardian: registering "${scriptUrl}" failed (${reason}); ${fix}`, { cause: error });
  if (/MIME type/i.test(reason)) return failed('serve the worker script with Content-Type: text/javascript');
  if (/max scope/i.test(reason)) return failed('put the script in a folder that contains the scope, or allow a wider scope with the Service-Worker-Allowed response header');
  if (error instanceof DOMException && error.name === 'SecurityError') {
    return new GuardianError('unsupported', `sw-token-guardian: this browser context does not allow service workers (${reason})`, { cause: error });
  }
  if (/evaluation failed/i.test(reason)) return failed('the script threw while it ran: a configuration error from installTokenGuardian appears in the worker console');
  if (/HTTP response code|fetching the script/i.test(reason)) return failed(`check that "${scriptUrl}" serves the worker script`);
  return failed('see the worker console for the cause');
}

async function register(options: ConnectOptions): Promise<ServiceWorkerRegistration> {
  const registrationOptions: RegistrationOptions = { type: options.type ?? 'classic' };
  if (options.scope !== undefined) registrationOptions.scope = options.scope;
  let registration: ServiceWorkerRegistration | undefined;
  try {
    registration = await navigator.serviceWorker.register(options.scriptUrl, registrationOptions);
  } catch (error) {
    throw registrationError(error, options.scriptUrl);
  }
  // Some automation and privacy modes stub register() so that it yields no registration.
  if (!(registration instanceof ServiceWorkerRegistration)) {
    throw new GuardianError('unsupported', 'sw-token-guardian: service workers are blocked in this browser context, so the guardian cannot run; nothing was stored in the page instead');
  }
  return registration;
}

/**
 * Registers the worker, waits until it controls this page, and returns the page's handle to it.
 * Rejects with `unsupported`, `registration_failed`, `not_controlled` or `timeout`.
 */
export async function connectTokenGuardian(options: ConnectOptions): Promise<TokenGuardian> {
  if (typeof options?.scriptUrl !== 'string' || options.scriptUrl === '') {
    throw new GuardianError('invalid_argument', `sw-token-guardian: connectTokenGuardian needs scriptUrl, the URL of the worker script, got ${JSON.stringify(options?.scriptUrl)}`);
  }
  if (typeof navigator === 'undefined' || !('serviceWorker' in navigator) || navigator.serviceWorker === undefined) {
    throw new GuardianError('unsupported', 'sw-token-guardian: service workers are not available here; they need a secure context (https or localhost) and a browser or profile that allows them');
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  installErrorTransfer();

  const container = navigator.serviceWorker;
  const registration = await withTimeout(register(options), timeoutMs, 'registration_failed', `registering "${options.scriptUrl}"`);
  const worker = await withTimeout(waitForActivation(registration), timeoutMs, 'registration_failed', 'activating the worker');
  await withTimeout(takeControl(worker), timeoutMs, 'not_controlled', 'taking control of the page');

  const listeners = new Set<(event: GuardianEvent) => void>();
  container.addEventListener('message', (message) => {
    if (isEventMessage(message.data)) notify(message.data.event);
  });
  container.startMessages();

  const notify = (event: GuardianEvent) => {
    for (const listener of listeners) listener(event);
  };
  // A tab coming back from the background or the back-forward cache may have missed events.
  const resync = () => {
    if (document.visibilityState !== 'visible') return;
    call('getAuthState', (api) => api.getAuthState()).then(
      (state) => notify({ type: 'state', state }),
      () => undefined,
    );
  };
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) resync();
  });
  document.addEventListener('visibilitychange', resync);
  window.addEventListener('online', () => {
    (container.controller ?? registration.active)?.postMessage({ type: MessageType.online });
  });

  // Each call gets a fresh MessageChannel posted through the current worker. A port handed to
  // a worker dies when the browser stops that worker, while a postMessage to the
  // ServiceWorker object starts it again, so no call ever waits on a dead port.
  async function call<T>(name: string, invoke: (api: GuardianApi) => Promise<T>): Promise<T> {
    const target = container.controller ?? registration.active;
    if (target === null) {
      throw new GuardianError('worker_unavailable', 'sw-token-guardian: no active worker to call; reload the page');
    }
    const channel = new MessageChannel();
    target.postMessage({ type: MessageType.connect }, [channel.port2]);
    const remote = wrap<GuardianApi>(channel.port1);
    try {
      return await withTimeout(invoke(remote as unknown as GuardianApi), timeoutMs, 'timeout', `the worker call ${name}`);
    } finally {
      remote[releaseProxy]();
      channel.port1.close();
    }
  }

  return {
    async login(loginOptions = {}) {
      const { authorizationUrl } = await call('beginLogin', (api) => api.beginLogin({ ...loginOptions }));
      window.location.assign(authorizationUrl);
    },
    async logout(logoutOptions = {}) {
      const result = await call('logout', (api) => api.logout({ ...logoutOptions }));
      if (!result.redirecting && logoutOptions.returnTo !== undefined) window.location.assign(result.returnTo);
      return result;
    },
    getAuthState: () => call('getAuthState', (api) => api.getAuthState()),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
