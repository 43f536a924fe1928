// The worker's IndexedDB storage. IndexedDB is readable by every page of the origin, so
// values that contain secrets are sealed with AES-GCM under a key created with
// `extractable: false`. NOTE: sealing keeps secrets out of plain storage and out of any dump of
// the database, but a script running in the page could still decrypt with the stored key
// handle. The threat model in the README lists what that leaves an attacker.
import { createStore, del, get, keys, set, type UseStore } from 'idb-keyval';

interface SealedValue {
  iv: Uint8Array<ArrayBuffer>;
  ciphertext: ArrayBuffer;
}

const sealingKeyName = 'sealing-key';

export class SealedStore {
  readonly #store: UseStore;
  #creatingKey: Promise<CryptoKey> | null = null;

  // idb-keyval opens a new connection when the browser closed the old one, for example because
  // the page or the user deleted the database. The next write then creates the database again.
  constructor(databaseName = 'sw-token-guardian') {
    this.#store = createStore(databaseName, 'keyval');
  }

  /**
   * Reads the sealing key, creating it when the database has none. The key is read from the
   * database each time rather than cached, so a value is never sealed with a key that a
   * recreated database does not contain.
   */
  async #sealingKey(): Promise<CryptoKey> {
    const existing = await get<CryptoKey>(sealingKeyName, this.#store);
    if (existing !== undefined) return existing;

    this.#creatingKey ??= (async () => {
      const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
      await set(sealingKeyName, key, this.#store);
      return key;
    })().finally(() => {
      this.#creatingKey = null;
    });
    return this.#creatingKey;
  }

  /**
   * Checks that this browser lets a service worker keep a non-extractable key in IndexedDB, by
   * reading or creating the sealing key. Rejects with the browser's reason where it does not,
   * for example where IndexedDB is missing or cannot store a `CryptoKey`.
   */
  async probe(): Promise<void> {
    if (typeof indexedDB === 'undefined') throw new Error('this browser offers no IndexedDB to service workers');
    await this.#sealingKey();
  }

  /** Stores `value` as JSON, sealed with the store's key. */
  async setSealed(name: string, value: unknown): Promise<void> {
    const key = await this.#sealingKey();
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const plaintext = new TextEncoder().encode(JSON.stringify(value));
    const sealed: SealedValue = { iv, ciphertext: await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plaintext) };
    await set(name, sealed, this.#store);
  }

  /**
   * Returns the unsealed value, or undefined when there is none. Rejects when the value does
   * not decrypt, for example after the sealing key was deleted.
   */
  async getSealed<T>(name: string): Promise<T | undefined> {
    const sealed = await get<SealedValue>(name, this.#store);
    if (sealed === undefined) return undefined;
    const key = await this.#sealingKey();
    const plaintext = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv }, key, sealed.ciphertext);
    return JSON.parse(new TextDecoder().decode(plaintext)) as T;
  }

  /** Stores a value that is not secret in itself, such as a key pair with a non-extractable private key. */
  setPlain(name: string, value: unknown): Promise<void> {
    return set(name, value, this.#store);
  }

  getPlain<T>(name: string): Promise<T | undefined> {
    return get<T>(name, this.#store);
  }

  delete(name: string): Promise<void> {
    return del(name, this.#store);
  }

  async names(): Promise<string[]> {
    const all = await keys(this.#store);
    return all.filter((name): name is string => typeof name === 'string');
  }
}
