import { expect, test } from '@playwright/test';
import { SessionStore, sessionSchemaVersion, upgradeSessionRecord, type SessionStorage } from './session-store.ts';

const token = { accessToken: 'at', expiresAt: 1_700_000_000_000, lifetimeMs: 20_000 };

const current = {
  schemaVersion: sessionSchemaVersion,
  tokens: { default: token, '["https://reports.example.com/","","reports:read"]': { ...token, accessToken: 'at-reports' } },
  refreshToken: 'rt',
  idToken: undefined,
  user: { sub: 'alice', name: 'Alice' },
  dpop: true,
};

const versionOne = {
  schemaVersion: 1,
  accessToken: 'at',
  refreshToken: 'rt',
  idToken: undefined,
  expiresAt: 1_700_000_000_000,
  lifetimeMs: 20_000,
  user: { sub: 'alice', name: 'Alice' },
  dpop: true,
};

test('current schema is accepted', () => {
  const { schemaVersion: _version, ...data } = current;
  expect(upgradeSessionRecord(current)).toEqual(data);
});

test('version 1 record becomes the default token', () => {
  expect(upgradeSessionRecord(versionOne)).toEqual({ tokens: { default: token }, refreshToken: 'rt', idToken: undefined, user: versionOne.user, dpop: true });
});

test('record without expiry or refresh token is accepted', () => {
  const upgraded = upgradeSessionRecord({ ...current, tokens: { default: { ...token, expiresAt: null, lifetimeMs: null } }, refreshToken: undefined });
  expect(upgraded).toMatchObject({ tokens: { default: { expiresAt: null } }, refreshToken: undefined });
});

test('record with no access token yet is accepted', () => {
  expect(upgradeSessionRecord({ ...current, tokens: {} })).toMatchObject({ tokens: {} });
});

test('newer schema is refused', () => {
  expect(upgradeSessionRecord({ ...current, schemaVersion: sessionSchemaVersion + 1 })).toMatch(/newer than this worker/);
});

const damaged: Array<[name: string, record: unknown]> = [
  ['not an object', 'session'],
  ['null', null],
  ['no schema version', { ...current, schemaVersion: undefined }],
  ['schema version zero', { ...current, schemaVersion: 0 }],
  ['tokens missing', { ...current, tokens: undefined }],
  ['access token missing', { ...current, tokens: { default: { ...token, accessToken: undefined } } }],
  ['version 1 access token missing', { ...versionOne, accessToken: undefined }],
  ['refresh token not a string', { ...current, refreshToken: 42 }],
  ['expiry not a number', { ...current, tokens: { default: { ...token, expiresAt: '2026-12-04' } } }],
  ['version 1 expiry not a number', { ...versionOne, expiresAt: '2026-12-04' }],
  ['user without sub', { ...current, user: { name: 'Alice' } }],
  ['dpop flag missing', { ...current, dpop: undefined }],
];

for (const [name, record] of damaged) {
  test(`damaged record refused: ${name}`, () => {
    expect(typeof upgradeSessionRecord(record)).toBe('string');
  });
}

/** Creates a storage whose feature probe fails, as in a browser that cannot keep a CryptoKey in IndexedDB. */
function storageWithoutKeys(writes: string[]): SessionStorage {
  const recordWrite = async (name: string) => {
    writes.push(name);
  };
  return {
    probe: async () => {
      throw new DOMException('CryptoKey could not be cloned', 'DataCloneError');
    },
    setSealed: recordWrite,
    setPlain: recordWrite,
    delete: recordWrite,
    getSealed: async () => undefined,
    getPlain: async () => undefined,
  };
}

const sessionData = { tokens: { default: token }, refreshToken: 'rt', idToken: undefined, user: { sub: 'alice' }, dpop: true };

test('auto persistence falls back to memory where IndexedDB cannot hold keys', async () => {
  const writes: string[] = [];
  const warnings: string[] = [];
  const store = new SessionStore(storageWithoutKeys(writes), 'auto', (message) => warnings.push(message));
  await store.save(sessionData, undefined);
  expect(await store.load()).toEqual({ kind: 'none' });
  await store.clear();
  expect(writes).toEqual([]);
  // Detected once per worker life.
  expect(warnings).toEqual([expect.stringContaining('DataCloneError')]);
});

test('indexeddb persistence reports a browser that cannot hold keys', async () => {
  const store = new SessionStore(storageWithoutKeys([]), 'indexeddb');
  await expect(store.save(sessionData, undefined)).rejects.toThrow(/persistence: 'indexeddb' cannot be honoured/);
});
