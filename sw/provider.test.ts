import { expect, test } from '@playwright/test';
import * as oauth from 'oauth4webapi';
import { describeProviderError } from './provider.ts';

const server: oauth.AuthorizationServer = { issuer: 'https://login.example.com', token_endpoint: 'https://login.example.com/token' };
const client: oauth.Client = { client_id: 'spa' };

async function processingError(response: Response): Promise<unknown> {
  try {
    await oauth.processRefreshTokenResponse(server, client, response);
  } catch (error) {
    return error;
  }
  throw new Error('the response was accepted');
}

test('5xx without a token response names the status', async () => {
  const error = await processingError(new Response('{"error":"server_error"}', { status: 500, statusText: 'Internal Server Error' }));
  expect(describeProviderError(error)).toMatch(/^the provider answered HTTP 500 Internal Server Error, which is not a valid response/);
});

test('OAuth error body names the error code', async () => {
  const body = JSON.stringify({ error: 'invalid_grant', error_description: 'grant request is invalid' });
  const error = await processingError(new Response(body, { status: 400, headers: { 'content-type': 'application/json' } }));
  expect(describeProviderError(error)).toBe('the provider answered 400 invalid_grant (grant request is invalid)');
});

test('network failure and timeout are told apart', () => {
  expect(describeProviderError(new TypeError('Failed to fetch'))).toBe('the provider could not be reached (Failed to fetch)');
  expect(describeProviderError(new DOMException('The operation timed out.', 'TimeoutError'))).toBe('the request to the provider timed out');
});
