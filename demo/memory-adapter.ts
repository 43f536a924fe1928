// In-memory storage for the demo provider. Everything is lost when the process stops, which is
// what a demo wants; a real deployment uses a database adapter.
import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  expiresAt: number | null;
}

export class MemoryAdapter implements Adapter {
  // One store per provider instance, shared by the adapters of its models.
  static forStore(store: Map<string, Entry>): new (model: string) => MemoryAdapter {
    return class extends MemoryAdapter {
      constructor(model: string) {
        super(model, store);
      }
    };
  }

  readonly #model: string;
  readonly #store: Map<string, Entry>;

  constructor(model: string, store: Map<string, Entry>) {
    this.#model = model;
    this.#store = store;
  }

  #key(id: string): string {
    return `${this.#model}:${id}`;
  }

  #read(key: string): AdapterPayload | undefined {
    const entry = this.#store.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      this.#store.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : null;
    this.#store.set(this.#key(id), { payload, expiresAt });
    if (payload.grantId !== undefined) this.#store.set(`grant:${payload.grantId}:${this.#key(id)}`, { payload: { id } as AdapterPayload, expiresAt });
    if (payload.userCode !== undefined) this.#store.set(`userCode:${payload.userCode}`, { payload: { id } as AdapterPayload, expiresAt });
    if (payload.uid !== undefined) this.#store.set(`uid:${payload.uid}`, { payload: { id } as AdapterPayload, expiresAt });
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.#read(this.#key(id));
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const reference = this.#read(`userCode:${userCode}`);
    return reference === undefined ? undefined : this.find(String(reference.id));
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const reference = this.#read(`uid:${uid}`);
    return reference === undefined ? undefined : this.find(String(reference.id));
  }

  async consume(id: string): Promise<void> {
    const payload = this.#read(this.#key(id));
    if (payload !== undefined) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.#store.delete(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const prefix = `grant:${grantId}:`;
    for (const key of [...this.#store.keys()]) {
      if (!key.startsWith(prefix)) continue;
      this.#store.delete(key.slice(prefix.length));
      this.#store.delete(key);
    }
  }
}
