// Login transactions (state, nonce, PKCE verifier, return path, DPoP key) kept in IndexedDB so
// that a login survives the browser stopping the worker while the user is at the provider.
import type { AuthorizationRequest } from './provider.ts';
import type { SealedStore } from './sealed-store.ts';

export interface LoginTransaction extends AuthorizationRequest {
  /** Same-origin path to land on after the callback. */
  returnTo: string;
  /** Epoch milliseconds after which the callback is refused. */
  expiresAt: number;
}

/** A transaction with the DPoP key pair the code will be bound to, when DPoP is in use. */
export interface StoredTransaction {
  transaction: LoginTransaction;
  keyPair: CryptoKeyPair | undefined;
}

/** How long a user may stay at the provider's login page before the transaction expires. */
export const transactionLifetimeMs = 10 * 60 * 1000;

const transactionPrefix = 'transaction:';
const keyPrefix = 'transaction-dpop-key:';

export class TransactionStore {
  readonly #storage: SealedStore;
  // States being taken right now, so that two callbacks racing on one state cannot both read it.
  readonly #taking = new Set<string>();

  constructor(storage: SealedStore) {
    this.#storage = storage;
  }

  /** Stores a transaction under its state, and drops expired ones on the way. */
  async save(transaction: LoginTransaction, keyPair: CryptoKeyPair | undefined): Promise<void> {
    await this.#deleteExpired();
    if (keyPair !== undefined) await this.#storage.setPlain(keyPrefix + transaction.state, keyPair);
    await this.#storage.setSealed(transactionPrefix + transaction.state, transaction);
  }

  /**
   * Removes and returns the transaction for `state`, or null when there is none, it expired,
   * or it does not decrypt. A state can be taken only once.
   */
  async take(state: string): Promise<StoredTransaction | null> {
    if (this.#taking.has(state)) return null;
    this.#taking.add(state);
    try {
      return await this.#take(state);
    } finally {
      this.#taking.delete(state);
    }
  }

  async #take(state: string): Promise<StoredTransaction | null> {
    const transaction = await this.#storage.getSealed<LoginTransaction>(transactionPrefix + state).catch(() => undefined);
    const keyPair = await this.#storage.getPlain<CryptoKeyPair>(keyPrefix + state);
    await this.#storage.delete(transactionPrefix + state);
    await this.#storage.delete(keyPrefix + state);

    if (transaction === undefined || transaction.state !== state || transaction.expiresAt < Date.now()) return null;
    return { transaction, keyPair };
  }

  async #deleteExpired(): Promise<void> {
    const now = Date.now();
    for (const name of await this.#storage.names()) {
      if (!name.startsWith(transactionPrefix)) continue;
      const transaction = await this.#storage.getSealed<LoginTransaction>(name).catch(() => undefined);
      if (transaction !== undefined && transaction.expiresAt >= now) continue;
      await this.#storage.delete(name);
      await this.#storage.delete(keyPrefix + name.slice(transactionPrefix.length));
    }
  }
}
