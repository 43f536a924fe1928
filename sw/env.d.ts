// Bundlers replace `process.env.NODE_ENV` at build time; a service worker has no `process`.
declare const process: { env: { NODE_ENV?: string } };
