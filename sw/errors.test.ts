import { readFile } from 'node:fs/promises';
import { expect, test } from '@playwright/test';

/** Reads the members of the `GuardianErrorCode` union from the source of errors.ts. */
async function declaredCodes(): Promise<string[]> {
  const source = await readFile(new URL('./errors.ts', import.meta.url), 'utf8');
  const union = /export type GuardianErrorCode =([^;]*);/.exec(source)?.[1];
  if (union === undefined) throw new Error('errors.ts no longer declares GuardianErrorCode as a union of string literals; update this test');
  return [...union.matchAll(/\|\s*'([a-z_]+)'/g)].map((match) => match[1]!);
}

/** Reads the rows of the table under "### Errors" in the README: code, when, what to do. */
async function documentedCodes(): Promise<Map<string, string[]>> {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.split(/^### Errors$/m)[1]?.split(/^#{2,3} /m)[0];
  if (section === undefined) throw new Error('README.md has no "### Errors" section');

  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const cells = /^\| `([a-z_]+)` \|(.*)\|$/.exec(line);
    if (cells === null) continue;
    rows.set(cells[1]!, cells[2]!.split('|').map((cell) => cell.trim()));
  }
  return rows;
}

test('every error code has a README row', async () => {
  const declared = await declaredCodes();
  const documented = await documentedCodes();
  expect(declared).toContain('invalid_config');

  for (const code of declared) {
    const cells = documented.get(code);
    expect(cells, `README.md's Errors table has no row for ${code}`).toBeDefined();
    expect(cells, `the README row for ${code} needs "when" and "what to do"`).toHaveLength(2);
    for (const cell of cells!) expect(cell, `the README row for ${code} has an empty cell`).not.toBe('');
  }
});

test('README lists no unknown error code', async () => {
  const declared = new Set(await declaredCodes());
  const documented = await documentedCodes();
  expect(documented.size).toBeGreaterThan(0);

  for (const code of documented.keys()) expect(declared.has(code), `README.md documents ${code}, which errors.ts does not declare`).toBe(true);
});
