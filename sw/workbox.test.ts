import { expect, test } from '@playwright/test';
import { GuardianError } from './errors.ts';
import { parseResource } from './resources.ts';
import { createTokenGuardianHandle, type GuardianResponder, type LifetimeEvent } from './workbox.ts';

const resources = [parseResource('https://app.example.com/api')];
const lifetimeEvent: LifetimeEvent = { waitUntil: () => undefined };

async function withFetch<T>(replacement: typeof fetch, task: () => Promise<T>): Promise<T> {
  const original = globalThis.fetch;
  globalThis.fetch = replacement;
  try {
    return await task();
  } finally {
    globalThis.fetch = original;
  }
}

test('matchResource covers configured resources only', () => {
  const { matchResource } = createTokenGuardianHandle(resources, () => undefined);
  const match = (url: string, request: Request = new Request(url)) => matchResource({ url: new URL(url), request });

  expect(match('https://app.example.com/api/items')).toBe(true);
  expect(match('https://app.example.com/api')).toBe(true);
  expect(match('https://app.example.com/apix')).toBe(false);
  expect(match('https://other.example.com/api/items')).toBe(false);
  // Request cannot be built with mode 'navigate' outside a browser's navigation.
  const navigation = { url: 'https://app.example.com/api/items', mode: 'navigate' } as Request;
  expect(match('https://app.example.com/api/items', navigation)).toBe(false);
});

test('handler answers for the request URL', async () => {
  const seen: string[] = [];
  const respond: GuardianResponder = async (_request, url) => {
    seen.push(url.href);
    return new Response('from the guardian');
  };
  const { handler } = createTokenGuardianHandle(resources, respond);
  const request = new Request('https://app.example.com/api/items');

  // A caller's `url` that differs from the request's own is ignored.
  const response = await handler.handle({ request, url: new URL('https://elsewhere.example.com/x'), event: lifetimeEvent } as never);

  expect(await response.text()).toBe('from the guardian');
  expect(seen).toEqual(['https://app.example.com/api/items']);
});

test('handler passes other requests through', async () => {
  const { handler } = createTokenGuardianHandle(resources, () => undefined);
  const request = new Request('https://app.example.com/apix', { headers: { 'x-trace': 'abc' } });
  const sent: Request[] = [];

  const response = await withFetch(
    async (input) => {
      sent.push(input as Request);
      return new Response('from the network');
    },
    () => handler.handle({ request, url: new URL(request.url), event: lifetimeEvent } as never),
  );

  expect(await response.text()).toBe('from the network');
  expect(sent).toHaveLength(1);
  expect(sent[0]).toBe(request);
});

test('handler rejects missing request or event', async () => {
  const { handler } = createTokenGuardianHandle(resources, async () => new Response());
  const request = new Request('https://app.example.com/api/items');
  const cases = [
    { request: 'https://app.example.com/api/items', event: lifetimeEvent },
    { request, event: undefined },
    { request, event: {} },
    undefined,
  ];

  for (const options of cases) {
    const error = await handler.handle(options as never).then(
      () => null,
      (thrown: unknown) => thrown as GuardianError,
    );
    expect(error).toBeInstanceOf(GuardianError);
    expect(error?.code).toBe('invalid_argument');
    expect(error?.message).toContain('expects { request, event }');
  }
});

test('handle contains only the matcher and handler', () => {
  const handle = createTokenGuardianHandle(resources, () => undefined);
  expect(Object.keys(handle).sort()).toEqual(['handler', 'matchResource']);
  expect(Object.keys(handle.handler)).toEqual(['handle']);
  expect(Object.isFrozen(handle)).toBe(true);
});
