import { expect, test } from '@playwright/test';
import { resolveConfig, type GuardianConfig } from './config.ts';
import { GuardianError } from './errors.ts';

const scope = 'https://app.example.com/';
const valid: GuardianConfig = {
  issuer: 'https://login.example.com',
  clientId: 'spa',
  redirectUri: 'https://app.example.com/callback',
  resources: ['https://api.example.com/v1'],
};

function errorOf(config: unknown): GuardianError {
  try {
    resolveConfig(config as GuardianConfig, scope);
  } catch (error) {
    return error as GuardianError;
  }
  throw new Error('resolveConfig accepted the configuration');
}

test('valid config gets defaults', () => {
  const resolved = resolveConfig(valid, scope);
  expect(resolved.scope).toBe('openid offline_access');
  expect(resolved.refreshLeewaySeconds).toBe(30);
  expect(resolved.allowInsecureRequests).toBe(false);
  expect(resolved.providerTimeoutMs).toBe(10_000);
  expect(resolved.postLogoutRedirectUri).toBeNull();
  expect(resolved.dpop).toBe('auto');
  expect(resolved.persistence).toBe('auto');
  expect(resolved.resources).toEqual([{ origin: 'https://api.example.com', pathPrefix: '/v1', source: 'https://api.example.com/v1', target: { key: 'default' } }]);
  expect(resolved.tokenTargets).toEqual([{ key: 'default' }]);
  expect(resolved.authorizationScope).toBe('openid offline_access');
});

test('resources with their own tokens', () => {
  const resolved = resolveConfig(
    {
      ...valid,
      scope: 'openid offline_access profile',
      resources: [
        { url: 'https://api.example.com/v1', resource: 'https://api.example.com/', scope: 'orders:read orders:write' },
        'https://api.example.com/public',
        { url: 'https://reports.example.com', resource: 'https://reports.example.com/', scope: 'reports:read profile' },
        // Same parameters in another order: the same token as the first entry.
        { url: 'https://api.example.com/v2', scope: 'orders:write orders:read', resource: 'https://api.example.com/' },
        { url: 'https://tenant.example.com', audience: 'https://tenant-api' },
      ],
    },
    scope,
  );
  const keys = resolved.resources.map((resource) => resource.target.key);
  expect(keys[3]).toBe(keys[0]);
  expect(new Set(keys).size).toBe(4);
  expect(resolved.tokenTargets.map((target) => target.key)).toEqual([keys[0], 'default', keys[2], keys[4]]);
  expect(resolved.tokenTargets[0]).toMatchObject({ resource: 'https://api.example.com/', scope: 'orders:read orders:write' });
  expect(resolved.tokenTargets[3]).toMatchObject({ audience: 'https://tenant-api' });
  expect(resolved.authorizationScope).toBe('openid offline_access profile orders:read orders:write reports:read');
});

const invalid: Array<[name: string, config: unknown, field: string, fix: RegExp]> = [
  ['config not an object', null, 'installTokenGuardian(config)', /configuration object/],
  ['issuer missing', { ...valid, issuer: undefined }, 'config.issuer', /absolute URL/],
  ['issuer relative', { ...valid, issuer: '/login' }, 'config.issuer', /not an absolute URL/],
  ['issuer with query', { ...valid, issuer: 'https://login.example.com/?tenant=1' }, 'config.issuer', /query or fragment/],
  ['issuer plain http', { ...valid, issuer: 'http://login.example.com' }, 'config.issuer', /use https/],
  ['issuer http without opt-in', { ...valid, issuer: 'http://localhost:4000' }, 'config.issuer', /allowInsecureRequests: true/],
  ['insecure on remote host', { ...valid, issuer: 'http://login.example.com', allowInsecureRequests: true }, 'config.issuer', /not loopback/],
  ['clientId empty', { ...valid, clientId: ' ' }, 'config.clientId', /client ID registered/],
  ['redirectUri outside scope', { ...valid, redirectUri: 'https://other.example.com/callback' }, 'config.redirectUri', /outside the worker's scope/],
  ['redirectUri with fragment', { ...valid, redirectUri: 'https://app.example.com/callback#x' }, 'config.redirectUri', /outside the worker's scope/],
  ['scope without openid', { ...valid, scope: 'profile offline_access' }, 'config.scope', /add "openid"/],
  ['scope not a string', { ...valid, scope: ['openid'] }, 'config.scope', /space-separated string/],
  ['resources empty', { ...valid, resources: [] }, 'config.resources', /non-empty array/],
  ['resource look-alike', { ...valid, resources: ['https://api.example.com', 'api.example.com'] }, 'config.resources[1]', /absolute URL/],
  ['resource entry without url', { ...valid, resources: [{ resource: 'https://api.example.com/' }] }, 'config.resources[0]', /url undefined is not a string/],
  ['resource entry with unknown field', { ...valid, resources: [{ url: 'https://api.example.com', audiance: 'x' }] }, 'config.resources[0]', /unknown field "audiance"/],
  ['resource indicator relative', { ...valid, resources: [{ url: 'https://api.example.com', resource: 'api' }] }, 'config.resources[0]', /absolute URI without a fragment/],
  ['resource indicator with fragment', { ...valid, resources: [{ url: 'https://api.example.com', resource: 'https://api.example.com/#x' }] }, 'config.resources[0]', /without a fragment/],
  ['resource and audience both', { ...valid, resources: [{ url: 'https://api.example.com', resource: 'https://a/', audience: 'a' }] }, 'config.resources[0]', /both resource and audience/],
  ['audience empty', { ...valid, resources: [{ url: 'https://api.example.com', audience: '' }] }, 'config.resources[0]', /non-empty string/],
  ['resource scope empty', { ...valid, resources: [{ url: 'https://api.example.com', scope: ' ' }] }, 'config.resources[0]', /space-separated list of scopes/],
  ['same URLs twice', { ...valid, resources: ['https://api.example.com/v1', { url: 'https://api.example.com/v1/', scope: 'x' }] }, 'config.resources[1]', /same URLs as resources\[0\]/],
  ['misspelled field', { ...valid, refreshLeeway: 5 }, 'config.refreshLeeway', /unknown field, so it would be ignored; did you mean "refreshLeewaySeconds"\?/],
  ['field in other case', { ...valid, redirectURI: 'https://app.example.com/callback' }, 'config.redirectURI', /did you mean "redirectUri"\?/],
  ['unrelated field', { ...valid, tokenStorage: 'localStorage' }, 'config.tokenStorage', /unknown field, so it would be ignored\. The fields are issuer, clientId/],
  ['leeway negative', { ...valid, refreshLeewaySeconds: -1 }, 'config.refreshLeewaySeconds', /seconds >= 0/],
  ['leeway string', { ...valid, refreshLeewaySeconds: '30' }, 'config.refreshLeewaySeconds', /seconds >= 0/],
  ['timeout too small', { ...valid, providerTimeoutMs: 5 }, 'config.providerTimeoutMs', /100 to 120000/],
  ['flag not boolean', { ...valid, allowInsecureRequests: 'yes' }, 'config.allowInsecureRequests', /true or false/],
  ['postLogout relative', { ...valid, postLogoutRedirectUri: '/' }, 'config.postLogoutRedirectUri', /absolute URL/],
  ['dpop misspelled', { ...valid, dpop: 'yes' }, 'config.dpop', /'auto', true or false/],
  ['persistence unknown', { ...valid, persistence: 'localStorage' }, 'config.persistence', /'auto', 'memory' or 'indexeddb'/],
];

for (const [name, config, field, fix] of invalid) {
  test(`rejects ${name}`, () => {
    const error = errorOf(config);
    expect(error).toBeInstanceOf(GuardianError);
    expect(error.code).toBe('invalid_config');
    expect(error.message).toContain(field);
    expect(error.message).toMatch(fix);
  });
}

test('accepts loopback issuer with opt-in', () => {
  for (const issuer of ['http://localhost:4000', 'http://127.0.0.1:4000', 'http://[::1]:4000']) {
    expect(resolveConfig({ ...valid, issuer, allowInsecureRequests: true }, scope).issuer.href).toBe(`${issuer}/`);
  }
});

test('resourceRouting defaults to listener', () => {
  expect(resolveConfig(valid, scope).resourceRouting).toBe('listener');
  expect(resolveConfig({ ...valid, resourceRouting: 'router' }, scope).resourceRouting).toBe('router');
});

test('rejects unknown resourceRouting', () => {
  const error = errorOf({ ...valid, resourceRouting: 'workbox' });
  expect(error).toBeInstanceOf(GuardianError);
  expect(error.code).toBe('invalid_config');
  expect(error.message).toContain('config.resourceRouting');
  expect(error.message).toContain('"workbox"');
  expect(error.message).toMatch(/'router' when the app's router sends resource requests to guardian.handler/);
});
