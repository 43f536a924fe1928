// `npm run demo`: starts the provider, the app and its APIs on loopback and prints where to go.
import { startDemo } from './server.ts';

function portFromEnvironment(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`demo: ${name}=${JSON.stringify(value)} is not a port number from 0 to 65535`);
    process.exit(2);
  }
  return port;
}

const ports = {
  appPort: portFromEnvironment('DEMO_APP_PORT', 5173),
  providerPort: portFromEnvironment('DEMO_PROVIDER_PORT', 5174),
  otherPort: portFromEnvironment('DEMO_OTHER_PORT', 5175),
  reportsPort: portFromEnvironment('DEMO_REPORTS_PORT', 5176),
};

/** Reads DEMO_APP_ORIGINS: comma-separated origins of your own apps that may use the demo's client. */
function originsFromEnvironment(): string[] {
  const value = process.env.DEMO_APP_ORIGINS ?? '';
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      let url: URL | null = null;
      try {
        url = new URL(entry);
      } catch {
        url = null;
      }
      if (url === null || url.origin !== entry.replace(/\/$/, '')) {
        console.error(`demo: DEMO_APP_ORIGINS entry ${JSON.stringify(entry)} is not an origin; give scheme, host and port only, such as http://localhost:8080`);
        process.exit(2);
      }
      return url.origin;
    });
}

const extraAppOrigins = originsFromEnvironment();

let servers;
try {
  servers = await startDemo({ ...ports, extraAppOrigins });
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    const port = (error as { port?: number }).port;
    console.error(`demo: port ${port ?? ''} is already in use. Stop the program using it, or choose other ports with DEMO_APP_PORT, DEMO_PROVIDER_PORT, DEMO_OTHER_PORT and DEMO_REPORTS_PORT (now ${ports.appPort}, ${ports.providerPort}, ${ports.otherPort}, ${ports.reportsPort}).`);
    process.exit(1);
  }
  throw error;
}

console.log(`sw-token-guardian demo
  app:          ${servers.appUrl}/   <- open this in a browser with service workers
  provider:     ${servers.issuer}   (sign in as alice / wonderland, or bob / builder)
                client id "${servers.clientId}", a public client with PKCE; redirect URI ${servers.appUrl}/callback${extraAppOrigins.map((origin) => `, ${origin}/callback`).join('')}
  orders api:   ${servers.apiUrl}   (a configured resource on the app's origin)
  reports api:  ${servers.reportsUrl}   (a configured resource on its own origin, with its own token)
  other origin: ${servers.otherOrigin}   (not a resource: gets no credentials)
Your own app on another origin can use this provider and both APIs: start the demo with
DEMO_APP_ORIGINS=http://localhost:8080 (comma-separated) to register <origin>/callback and allow CORS.
Access tokens live 20 s. A call made after that refreshes the token first, and the log shows it.
Press Ctrl+C to stop.`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void servers.close().then(() => process.exit(0));
  });
}
