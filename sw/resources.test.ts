import { expect, test } from '@playwright/test';
import { findResource, matchesResource, parseResource } from './resources.ts';

const cases: Array<[resource: string, url: string, expected: boolean]> = [
  ['https://api.example.com', 'https://api.example.com/', true],
  ['https://api.example.com', 'https://api.example.com/anything?q=1', true],
  ['https://api.example.com', 'https://api.example.com.evil.test/', false],
  ['https://api.example.com', 'https://evil.test/https://api.example.com/', false],
  ['https://api.example.com', 'https://xapi.example.com/', false],
  ['https://api.example.com', 'http://api.example.com/', false],
  ['https://api.example.com', 'https://api.example.com:8443/', false],
  ['https://api.example.com', 'https://api.example.com:443/', true],
  ['https://api.example.com', 'https://API.Example.COM/', true],
  ['https://api.example.com', 'https://user:pass@api.example.com/', true],
  ['https://api.example.com/v1', 'https://api.example.com/v1', true],
  ['https://api.example.com/v1', 'https://api.example.com/v1/', true],
  ['https://api.example.com/v1', 'https://api.example.com/v1/users', true],
  ['https://api.example.com/v1', 'https://api.example.com/v10', false],
  ['https://api.example.com/v1', 'https://api.example.com/v1x/users', false],
  ['https://api.example.com/v1', 'https://api.example.com/', false],
  ['https://api.example.com/v1', 'https://api.example.com/V1/users', false],
  ['https://api.example.com/v1', 'https://api.example.com/v1/../admin', false],
  ['https://api.example.com/v1', 'https://api.example.com/v1/%2e%2e/admin', false],
  ['https://api.example.com/v1', 'https://api.example.com/%76%31/users', false],
  ['https://api.example.com/v1', 'https://api.example.com/v1%2Fusers', false],
  ['https://api.example.com/v1/', 'https://api.example.com/v1', true],
  ['https://api.example.com/v1/', 'https://api.example.com/v1/users', true],
  ['https://api.example.com/v1/', 'https://api.example.com/v1x', false],
  ['http://localhost:8080/api', 'http://localhost:8080/api/me', true],
  ['http://localhost:8080/api', 'http://localhost:8081/api/me', false],
  ['http://localhost:8080/api', 'http://127.0.0.1:8080/api/me', false],
  ['http://[::1]:8080/api', 'http://[::1]:8080/api/me', true],
];

test.describe('matchesResource', () => {
  for (const [resource, url, expected] of cases) {
    test(`${resource} ${expected ? 'matches' : 'rejects'} ${url}`, () => {
      expect(matchesResource(new URL(url), parseResource(resource))).toBe(expected);
    });
  }
});

test.describe('parseResource', () => {
  const invalid: Array<[value: unknown, message: RegExp]> = [
    ['api.example.com/v1', /not an absolute URL/],
    ['http://api.example.com', /must use https/],
    ['ftp://api.example.com', /must use https/],
    ['https://user:secret@api.example.com', /user credentials/],
    ['https://api.example.com/v1?x=1', /query or fragment/],
    ['https://api.example.com/v1#top', /query or fragment/],
    ['https://api.example.com/v1?', /query or fragment/],
    [42, /not a string/],
  ];
  for (const [value, message] of invalid) {
    test(`rejects ${JSON.stringify(value)}`, () => {
      expect(() => parseResource(value)).toThrow(message);
    });
  }

  test('normalizes origin and trailing slash', () => {
    expect(parseResource('https://API.example.com:443/v1/')).toEqual({
      origin: 'https://api.example.com',
      pathPrefix: '/v1',
      source: 'https://API.example.com:443/v1/',
      target: { key: 'default' },
    });
  });
});

test('nested prefixes: the longest one wins', () => {
  const resources = [
    parseResource('https://api.example.com'),
    parseResource({ url: 'https://api.example.com/reports', resource: 'https://reports.example.com/' }),
  ];
  expect(findResource(new URL('https://api.example.com/reports/1'), resources)).toBe(resources[1]);
  expect(findResource(new URL('https://api.example.com/reportsx'), resources)).toBe(resources[0]);
  expect(findResource(new URL('https://api.example.com/'), resources)).toBe(resources[0]);
  expect(findResource(new URL('https://other.example.com/reports/1'), resources)).toBeUndefined();
});
