// Types and messages shared by the service worker and the page client. Nothing here may
// carry a token, an authorization code or a PKCE verifier.
import { transferHandlers, type TransferHandler } from 'comlink';
import { GuardianError, type ErrorInfo, type GuardianErrorCode } from './errors.ts';

export type AuthStatus = 'unauthenticated' | 'authenticated' | 'login_required';

/** ID token claims about the user, without the protocol claims (`nonce`, `at_hash`, …). */
export type UserClaims = { sub: string } & Record<string, unknown>;

export interface AuthState {
  status: AuthStatus;
  /** Present while `status` is `authenticated`. */
  user: UserClaims | null;
  /** Expiry of the current access token, epoch milliseconds, by the worker's clock. */
  expiresAt: number | null;
  /** The last login, callback or refresh error, cleared by the next successful login. */
  error: ErrorInfo | null;
}

/** Outcome of one request to a configured resource, as a request event reports it. */
export type RequestOutcome = 'attached' | 'retried' | 'unauthorized' | 'failed';

export type GuardianEvent =
  | { type: 'state'; state: AuthState }
  | { type: 'refresh'; phase: 'started' | 'succeeded' | 'failed'; refreshId: number; durationMs?: number; error?: ErrorInfo }
  | {
      type: 'request';
      requestId: number;
      method: string;
      /** Origin-relative path without query or fragment. */
      path: string;
      outcome: RequestOutcome;
      status?: number;
      /** Time from interception to the response or error, in milliseconds. */
      durationMs: number;
      /** Opaque ID of the tab that made the request (`Client.id`), or `''` when unknown. */
      clientId: string;
      /** True in the copy of the event sent to the tab that made the request. */
      ownTab: boolean;
      /** The reason the request failed, when `outcome` is `failed`. */
      error?: ErrorInfo;
    };

export interface LoginOptions {
  /** Same-origin path to land on after the login; anything else lands on `/`. */
  returnTo?: string;
}

export interface LogoutOptions {
  /** Same-origin path to land on when the provider has no end-session endpoint. */
  returnTo?: string;
}

export interface LogoutResult {
  /** True when the worker is sending this tab to the provider's end-session endpoint. */
  redirecting: boolean;
  /** Same-origin path the page should go to when `redirecting` is false. */
  returnTo: string;
}

/** The calls a page can make through Comlink. Nothing here returns a token. */
export interface GuardianApi {
  getAuthState(): Promise<AuthState>;
  beginLogin(options: LoginOptions): Promise<{ authorizationUrl: string }>;
  logout(options: LogoutOptions): Promise<LogoutResult>;
}

/** `postMessage` types between page and worker. */
export const MessageType = {
  /** Page to worker: `{ type }` with one transferred port, on which the worker exposes the API. */
  connect: 'sw-token-guardian:connect',
  /** Page to worker: take control of every open page in scope. */
  claim: 'sw-token-guardian:claim',
  /** Page to worker: the browser is back online, so a paused refresh may run now. */
  online: 'sw-token-guardian:online',
  /** Worker to page: `{ type, event }`. */
  event: 'sw-token-guardian:event',
} as const;

export interface EventMessage {
  type: typeof MessageType.event;
  event: GuardianEvent;
}

export function isEventMessage(data: unknown): data is EventMessage {
  return typeof data === 'object' && data !== null && (data as { type?: unknown }).type === MessageType.event;
}

interface SerializedThrow {
  isError: true;
  value: { name: 'GuardianError'; code: GuardianErrorCode; message: string };
}

function isSerializedGuardianError(value: unknown): value is SerializedThrow {
  const serialized = value as Partial<SerializedThrow> | null;
  return typeof serialized === 'object' && serialized !== null && serialized.value?.name === 'GuardianError';
}

/**
 * Makes a `GuardianError` thrown on one side of Comlink arrive as a `GuardianError` with the
 * same `code` on the other side. Comlink's own handler keeps only name, message and stack.
 * Both sides must call this before the first call crosses.
 */
export function installErrorTransfer(): void {
  const builtIn = transferHandlers.get('throw') as TransferHandler<{ value: unknown }, unknown> | undefined;
  if (builtIn === undefined || (builtIn as { guardian?: true }).guardian) return;

  const handler: TransferHandler<{ value: unknown }, unknown> & { guardian: true } = {
    guardian: true,
    canHandle: (value): value is { value: unknown } => builtIn.canHandle(value),
    serialize(thrown) {
      const error = thrown.value;
      if (error instanceof GuardianError) {
        const serialized: SerializedThrow = {
          isError: true,
          value: { name: 'GuardianError', code: error.code, message: error.message },
        };
        return [serialized, []];
      }
      return builtIn.serialize(thrown);
    },
    deserialize(serialized) {
      if (isSerializedGuardianError(serialized)) {
        throw new GuardianError(serialized.value.code, serialized.value.message);
      }
      return builtIn.deserialize(serialized);
    },
  };
  transferHandlers.set('throw', handler);
}
