/**
 * Stable error codes. Callers branch on `code`; messages are for people and may change.
 *
 * | code | raised when |
 * | --- | --- |
 * | `invalid_config` | `installTokenGuardian` received a configuration it cannot use |
 * | `invalid_argument` | a client method received a value it cannot use |
 * | `discovery_failed` | the provider's metadata could not be fetched or did not validate |
 * | `authorization_error` | the provider redirected back with an OAuth error such as `access_denied` |
 * | `invalid_state` | a callback carried a missing, unknown, expired or already used `state` |
 * | `code_exchange_failed` | the authorization code could not be exchanged or the ID token did not validate |
 * | `refresh_rejected` | the provider rejected the refresh token (`invalid_grant`); a new login is needed |
 * | `refresh_failed` | a refresh failed for a transient reason (network, 5xx, timeout); the session is kept |
 * | `resource_unreachable` | a request to a configured resource got no response: the network failed, or a cross-origin resource's CORS preflight refused the `Authorization` or `DPoP` header |
 * | `storage_failed` | the session could not be saved in IndexedDB and lives in worker memory only |
 * | `session_lost` | a stored session could not be restored (key or record missing or damaged); a new login is needed |
 * | `timeout` | a bounded wait elapsed |
 * | `unsupported` | the browser has no service worker support in this context |
 * | `registration_failed` | the service worker script could not be registered or did not activate |
 * | `not_controlled` | the page did not come under the worker's control in time |
 * | `worker_unavailable` | no active worker could receive the call |
 */
export type GuardianErrorCode =
  | 'invalid_config'
  | 'invalid_argument'
  | 'discovery_failed'
  | 'authorization_error'
  | 'invalid_state'
  | 'code_exchange_failed'
  | 'refresh_rejected'
  | 'refresh_failed'
  | 'session_lost'
  | 'resource_unreachable'
  | 'storage_failed'
  | 'timeout'
  | 'unsupported'
  | 'registration_failed'
  | 'not_controlled'
  | 'worker_unavailable';

/**
 * The one error class of the library. Messages name values from the configuration and the
 * provider's error codes, never a token, code or verifier. `cause` is not enumerable, so
 * `JSON.stringify` and structured logging leave out the provider's response behind it.
 */
export class GuardianError extends Error {
  override readonly name = 'GuardianError';
  readonly code: GuardianErrorCode;

  constructor(code: GuardianErrorCode, message: string, options?: { cause?: unknown }) {
    super(message);
    this.code = code;
    if (options?.cause !== undefined) {
      Object.defineProperty(this, 'cause', { value: options.cause, enumerable: false });
    }
  }
}

/** Plain, cloneable form of an error as it appears in `AuthState.error` and in events. */
export interface ErrorInfo {
  code: GuardianErrorCode;
  message: string;
}

export function toErrorInfo(error: GuardianError): ErrorInfo {
  return { code: error.code, message: error.message };
}
