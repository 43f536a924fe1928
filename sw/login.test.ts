import { expect, test } from '@playwright/test';
import { safeReturnPath } from './login.ts';

const origin = 'https://app.example.com';
const cases: Array<[input: unknown, expected: string]> = [
  ['/dashboard', '/dashboard'],
  ['/search?q=a%20b#results', '/search?q=a%20b#results'],
  ['/a/../b', '/b'],
  ['//evil.test/path', '/'],
  ['/\\evil.test/path', '/'],
  ['/\t/evil.test/path', '/'],
  ['https://evil.test/', '/'],
  ['https://app.example.com/inside', '/'],
  ['javascript:alert(1)', '/'],
  ['dashboard', '/'],
  ['', '/'],
  [undefined, '/'],
  [42, '/'],
];

for (const [input, expected] of cases) {
  test(`safeReturnPath ${JSON.stringify(input)}`, () => {
    expect(safeReturnPath(input, origin)).toBe(expected);
  });
}
