// Login transactions (state, nonce, PKCE verifier, return path) kept in IndexedDB so that a
// login survives the browser stopping the worker while the user is at the provider.
//
// IndexedDB is readable by every page of the origin, so each transaction is sealed with
// AES-GCM under a key created with `extractable: false`, which keeps the verifier out of plain
// storage and out of any dump of the database. NOTE: while a login is in progress, a script in
// the page could still decrypt with the stored key handle. The verifier alone is useless
// without the authorization code, which only the worker sees.
import { createStore, del, entries, get, set, type UseStore } from 'idb-keyval';
import type { AuthorizationRequest } from './provider.ts';

export interface LoginTransaction extends AuthorizationRequest {
  /** Same-origin path to land on after the callback. */
  returnTo: string;
  /** Epoch milliseconds after which the callback is refused. */
  expiresAt: number;
}

interface SealedTransaction {
  iv: Uint8Array<ArrayBuffer>;
  ciphertext: ArrayBuffer;
  expiresAt: number;
}

/** How long a user may stay at the provider's login page before the transaction expires. */
export const transactionLifetimeMs = 10 * 60 * 1000;

const keyName = 'transaction-key';
const prefix = 'transaction:';

export class TransactionStore {
  readonly #store: UseStore;
  // States being taken right now, so that two callbacks racing on one state cannot both read it.
  readonly #taking = new Set<string>();
  #key: Promise<CryptoKey> | null = null;

  constructor(databaseName = 'sw-token-guardian') {
    this.#store = createStore(databaseName, 'keyval');
  }

  #sealingKey(): Promise<CryptoKey> {
    this.#key ??= (async () => {
      const existing = await get<CryptoKey>(keyName, this.#store);
      if (existing !== undefined) return existing;
      const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
      await set(keyName, key, this.#store);
      return key;
    })().catch((error: unknown) => {
      this.#key = null;
      throw error;
    });
    return this.#key;
  }

  /** Stores a transaction under its state, and drops expired ones on the way. */
  async save(transaction: LoginTransaction): Promise<void> {
    await this.#deleteExpired();
    const key = await this.#sealingKey();
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const plaintext = new TextEncoder().encode(JSON.stringify(transaction));
    const ciphertext = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plaintext);
    const sealed: SealedTransaction = { iv, ciphertext, expiresAt: transaction.expiresAt };
    await set(prefix + transaction.state, sealed, this.#store);
  }

  /**
   * Removes and returns the transaction for `state`, or null when there is none, it expired,
   * or it does not decrypt. A state can be taken only once.
   */
  async take(state: string): Promise<LoginTransaction | null> {
    if (this.#taking.has(state)) return null;
    this.#taking.add(state);
    try {
      return await this.#take(state);
    } finally {
      this.#taking.delete(state);
    }
  }

  async #take(state: string): Promise<LoginTransaction | null> {
    const entryKey = prefix + state;
    const sealed = await get<SealedTransaction>(entryKey, this.#store);
    if (sealed === undefined) return null;
    await del(entryKey, this.#store);
    if (sealed.expiresAt < Date.now()) return null;

    try {
      const key = await this.#sealingKey();
      const plaintext = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv }, key, sealed.ciphertext);
      const transaction = JSON.parse(new TextDecoder().decode(plaintext)) as LoginTransaction;
      return transaction.state === state ? transaction : null;
    } catch {
      return null;
    }
  }

  async #deleteExpired(): Promise<void> {
    const now = Date.now();
    for (const [entryKey, value] of await entries<IDBValidKey, SealedTransaction>(this.#store)) {
      if (typeof entryKey === 'string' && entryKey.startsWith(prefix) && value.expiresAt < now) {
        await del(entryKey, this.#store);
      }
    }
  }
}
