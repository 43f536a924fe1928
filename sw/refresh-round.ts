// One refresh round: take the cross-instance lock, adopt a rotation another worker instance
// already stored, or redeem the refresh token with bounded retries.
import type { TokenSet } from './provider.ts';
import { classifyRefreshFailure, retryDelayMs, type RefreshFailure } from './retry-policy.ts';
import type { LoadedSession, SessionData } from './session-store.ts';

/** Runs `task` while holding the refresh lock shared by every worker instance of the origin. */
export type RefreshLock = <T>(task: () => Promise<T>) => Promise<T>;

export interface RefreshRoundInput {
  refreshToken: string;
  keyPair: CryptoKeyPair | undefined;
  /** Key of the token this round renews or obtains (`TokenTarget.key`). */
  tokenKey: string;
  /** The access token the caller holds for that key, if any; a stored different one is newer. */
  seenAccessToken: string | undefined;
  refresh: (refreshToken: string, keyPair: CryptoKeyPair | undefined) => Promise<TokenSet>;
  /** Reads the stored session, when sessions of this kind are stored. */
  loadStored: (() => Promise<LoadedSession>) | undefined;
  lock: RefreshLock | undefined;
  /** False once the session this round serves was replaced, for example by a logout. */
  isCurrent: () => boolean;
  now: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Attempts per round for retryable failures. Default 3. */
  maxAttempts?: number;
  /** Maximum wait between attempts, in ms; a longer `Retry-After` ends the round. Default 10000. */
  maxRetryDelayMs?: number;
}

/** A stored session written by another worker instance, which this round builds on. */
export interface StoredBase {
  data: SessionData;
  keyPair: CryptoKeyPair | undefined;
}

export type RefreshOutcome =
  /** `base` is set when the round redeemed a refresh token another instance had stored. */
  | { kind: 'refreshed'; tokens: TokenSet; base?: StoredBase }
  | { kind: 'adopted'; data: SessionData; keyPair: CryptoKeyPair | undefined }
  | { kind: 'failed'; failure: RefreshFailure; cause: unknown };

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function redeem(input: RefreshRoundInput, base: StoredBase | undefined): Promise<RefreshOutcome> {
  const sleep = input.sleep ?? defaultSleep;
  const maxAttempts = input.maxAttempts ?? 3;
  const maxRetryDelayMs = input.maxRetryDelayMs ?? 10_000;
  const refreshToken = base?.data.refreshToken ?? input.refreshToken;
  const keyPair = base === undefined ? input.keyPair : base.keyPair;

  for (let attempt = 0; ; attempt++) {
    try {
      const tokens = await input.refresh(refreshToken, keyPair);
      return base === undefined ? { kind: 'refreshed', tokens } : { kind: 'refreshed', tokens, base };
    } catch (cause) {
      const failure = classifyRefreshFailure(cause, input.now());
      const delayMs = failure.retryAfterMs ?? retryDelayMs(attempt, input.random);
      const retry = failure.kind === 'retryable' && attempt + 1 < maxAttempts && delayMs <= maxRetryDelayMs;
      if (!retry) return { kind: 'failed', failure, cause };

      await sleep(delayMs);
      if (!input.isCurrent()) return { kind: 'failed', failure, cause };
    }
  }
}

/**
 * Runs one round. Under the lock it first rereads the stored session: when another worker
 * instance (an update, or a restarted worker) already rotated the refresh token, the round
 * never presents the spent one. It adopts the stored session when that contains a newer token for
 * this key, and otherwise redeems the stored refresh token.
 */
export function runRefreshRound(input: RefreshRoundInput): Promise<RefreshOutcome> {
  const round = async (): Promise<RefreshOutcome> => {
    if (input.loadStored !== undefined) {
      const stored = await input.loadStored();
      if (stored.kind === 'restored' && stored.data.refreshToken !== undefined && stored.data.refreshToken !== input.refreshToken) {
        const storedToken = stored.data.tokens[input.tokenKey];
        if (storedToken !== undefined && storedToken.accessToken !== input.seenAccessToken) {
          return { kind: 'adopted', data: stored.data, keyPair: stored.keyPair };
        }
        return redeem(input, { data: stored.data, keyPair: stored.keyPair });
      }
    }
    return redeem(input, undefined);
  };
  return input.lock === undefined ? round() : input.lock(round);
}
