// Persisted sessions: the tokens sealed in IndexedDB under a schema version, and the session's
// DPoP key pair beside them as a handle whose private key cannot be exported.
import type { PersistenceSetting } from './config.ts';
import type { UserClaims } from './protocol.ts';
import type { SealedStore } from './sealed-store.ts';

/**
 * Version of the stored session record. Raise it and add an upgrade when the shape changes.
 * Version 1 contained one access token, and version 2 contains one per token target.
 */
export const sessionSchemaVersion = 2;

/** One access token, with expiry by the worker's clock. */
export interface AccessTokenData {
  accessToken: string;
  /** Epoch milliseconds, or null when the provider gave no `expires_in`. */
  expiresAt: number | null;
  lifetimeMs: number | null;
}

/** Session fields that are persisted; the key pair is stored separately. */
export interface SessionData {
  /** Access tokens by token target key (`TokenTarget.key`). */
  tokens: Record<string, AccessTokenData>;
  refreshToken: string | undefined;
  idToken: string | undefined;
  user: UserClaims;
  dpop: boolean;
}

export interface StoredSessionRecord extends SessionData {
  schemaVersion: number;
}

/** The token key of version 1 records, whose single token served every resource. */
const versionOneTokenKey = 'default';

export type LoadedSession =
  | { kind: 'none' }
  | { kind: 'restored'; data: SessionData; keyPair: CryptoKeyPair | undefined }
  | { kind: 'unusable'; reason: string };

const sessionName = 'session';
const keyName = 'session-dpop-key';

function isOptionalString(value: unknown): boolean {
  return value === undefined || typeof value === 'string';
}

function isNumberOrNull(value: unknown): boolean {
  return value === null || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * Checks a stored record and brings it to the current schema. Returns a reason string when the
 * record cannot be used: a newer schema written by a later worker version, or a damaged record.
 */
export function upgradeSessionRecord(record: unknown): SessionData | string {
  if (typeof record !== 'object' || record === null) return 'the stored session is not an object';
  const stored = record as Partial<StoredSessionRecord>;
  if (typeof stored.schemaVersion !== 'number') return 'the stored session has no schema version';
  if (stored.schemaVersion > sessionSchemaVersion) {
    return `the stored session has schema version ${stored.schemaVersion}, newer than this worker's ${sessionSchemaVersion}`;
  }
  if (stored.schemaVersion < 1) return `the stored session has unknown schema version ${stored.schemaVersion}`;

  const tokens = stored.schemaVersion === 1 ? { [versionOneTokenKey]: record as AccessTokenData } : stored.tokens;
  const tokensValid =
    typeof tokens === 'object' && tokens !== null && Object.values(tokens).every((token) => isAccessTokenData(token));
  const valid =
    tokensValid &&
    isOptionalString(stored.refreshToken) &&
    isOptionalString(stored.idToken) &&
    typeof stored.user === 'object' &&
    stored.user !== null &&
    typeof stored.user.sub === 'string' &&
    typeof stored.dpop === 'boolean';
  if (!valid) return 'the stored session is damaged';

  const copies: Record<string, AccessTokenData> = {};
  for (const [key, token] of Object.entries(tokens!)) {
    copies[key] = { accessToken: token.accessToken, expiresAt: token.expiresAt, lifetimeMs: token.lifetimeMs };
  }
  return {
    tokens: copies,
    refreshToken: stored.refreshToken,
    idToken: stored.idToken,
    user: stored.user!,
    dpop: stored.dpop!,
  };
}

function isAccessTokenData(value: unknown): value is AccessTokenData {
  const token = value as Partial<AccessTokenData> | null;
  return typeof token === 'object' && token !== null && typeof token.accessToken === 'string' && isNumberOrNull(token.expiresAt) && isNumberOrNull(token.lifetimeMs);
}

function isKeyPair(value: unknown): value is CryptoKeyPair {
  const pair = value as Partial<CryptoKeyPair> | null;
  return (
    typeof pair === 'object' &&
    pair !== null &&
    pair.privateKey instanceof CryptoKey &&
    pair.publicKey instanceof CryptoKey &&
    pair.privateKey.usages.includes('sign')
  );
}

/** The part of `SealedStore` sessions use. */
export type SessionStorage = Pick<SealedStore, 'probe' | 'setSealed' | 'getSealed' | 'setPlain' | 'getPlain' | 'delete'>;

export class SessionStore {
  readonly #storage: SessionStorage;
  readonly #setting: PersistenceSetting;
  readonly #warn: (message: string) => void;
  #usable: Promise<boolean> | null = null;

  constructor(storage: SessionStorage, setting: PersistenceSetting, warnings: (message: string) => void = () => undefined) {
    this.#storage = storage;
    this.#setting = setting;
    this.#warn = warnings;
  }

  /**
   * Feature detection, once per worker life: whether IndexedDB can hold the non-extractable
   * keys that sessions need. Where it cannot, `'auto'` keeps sessions in memory.
   */
  #storageUsable(): Promise<boolean> {
    this.#usable ??= this.#storage.probe().then(
      () => true,
      (error: unknown) => {
        this.#warn(`IndexedDB cannot hold non-extractable keys here (${String(error)}), so sessions live in worker memory only`);
        return false;
      },
    );
    return this.#usable;
  }

  /** Tells whether a session of this kind is written to IndexedDB under the configured setting. */
  persists(data: Pick<SessionData, 'dpop'>): boolean {
    if (this.#setting === 'memory') return false;
    return this.#setting === 'indexeddb' || data.dpop;
  }

  /** Tells whether IndexedDB may hold a session at all, so a fresh worker must look there. */
  get mayHoldSession(): boolean {
    return this.#setting !== 'memory';
  }

  /** Writes the session, or removes a stored one when this session must stay in memory. */
  async save(data: SessionData, keyPair: CryptoKeyPair | undefined): Promise<void> {
    if (!this.persists(data)) {
      await this.clear();
      return;
    }
    if (!(await this.#storageUsable())) {
      if (this.#setting === 'auto') return;
      throw new Error("IndexedDB cannot hold non-extractable keys in this browser, so persistence: 'indexeddb' cannot be honoured");
    }
    if (keyPair !== undefined) await this.#storage.setPlain(keyName, keyPair);
    const record: StoredSessionRecord = { schemaVersion: sessionSchemaVersion, ...data };
    await this.#storage.setSealed(sessionName, record);
  }

  async load(): Promise<LoadedSession> {
    if (!this.mayHoldSession || !(await this.#storageUsable())) return { kind: 'none' };

    let record: unknown;
    try {
      record = await this.#storage.getSealed<unknown>(sessionName);
    } catch {
      return { kind: 'unusable', reason: 'the stored session does not decrypt, because its sealing key is missing or was replaced' };
    }
    if (record === undefined) return { kind: 'none' };

    const data = upgradeSessionRecord(record);
    if (typeof data === 'string') return { kind: 'unusable', reason: data };
    if (!data.dpop) return { kind: 'restored', data, keyPair: undefined };

    const keyPair = await this.#storage.getPlain<unknown>(keyName);
    if (!isKeyPair(keyPair)) {
      return { kind: 'unusable', reason: 'the DPoP key of the stored session is missing or unusable, for example after site data was cleared' };
    }
    return { kind: 'restored', data, keyPair };
  }

  async clear(): Promise<void> {
    if (!(await this.#storageUsable())) return;
    await this.#storage.delete(sessionName);
    await this.#storage.delete(keyName);
  }
}
