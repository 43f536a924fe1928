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

export type RefreshOutcome =
  | { kind: 'refreshed'; tokens: TokenSet }
  | { kind: 'adopted'; data: SessionData; keyPair: CryptoKeyPair | undefined }
  | { kind: 'failed'; failure: RefreshFailure; cause: unknown };

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function redeem(input: RefreshRoundInput): Promise<RefreshOutcome> {
  const sleep = input.sleep ?? defaultSleep;
  const maxAttempts = input.maxAttempts ?? 3;
  const maxRetryDelayMs = input.maxRetryDelayMs ?? 10_000;

  for (let attempt = 0; ; attempt++) {
    try {
      return { kind: 'refreshed', tokens: await input.refresh(input.refreshToken, input.keyPair) };
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
 * adopts that result instead of presenting the spent token.
 */
export function runRefreshRound(input: RefreshRoundInput): Promise<RefreshOutcome> {
  const round = async (): Promise<RefreshOutcome> => {
    if (input.loadStored !== undefined) {
      const stored = await input.loadStored();
      if (stored.kind === 'restored' && stored.data.refreshToken !== undefined && stored.data.refreshToken !== input.refreshToken) {
        return { kind: 'adopted', data: stored.data, keyPair: stored.keyPair };
      }
    }
    return redeem(input);
  };
  return input.lock === undefined ? round() : input.lock(round);
}
