import { expect, test } from '@playwright/test';
import { sessionSchemaVersion, upgradeSessionRecord } from './session-store.ts';

const current = {
  schemaVersion: sessionSchemaVersion,
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

test('record without expiry is accepted', () => {
  const upgraded = upgradeSessionRecord({ ...current, expiresAt: null, lifetimeMs: null, refreshToken: undefined });
  expect(typeof upgraded).toBe('object');
});

test('newer schema is refused', () => {
  expect(upgradeSessionRecord({ ...current, schemaVersion: sessionSchemaVersion + 1 })).toMatch(/newer than this worker/);
});

const damaged: Array<[name: string, record: unknown]> = [
  ['not an object', 'session'],
  ['null', null],
  ['no schema version', { ...current, schemaVersion: undefined }],
  ['schema version zero', { ...current, schemaVersion: 0 }],
  ['access token missing', { ...current, accessToken: undefined }],
  ['refresh token not a string', { ...current, refreshToken: 42 }],
  ['expiry not a number', { ...current, expiresAt: '2026-12-04' }],
  ['user without sub', { ...current, user: { name: 'Alice' } }],
  ['dpop flag missing', { ...current, dpop: undefined }],
];

for (const [name, record] of damaged) {
  test(`damaged record refused: ${name}`, () => {
    expect(typeof upgradeSessionRecord(record)).toBe('string');
  });
}
