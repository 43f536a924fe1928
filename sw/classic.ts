// Entry point of the prebuilt classic worker script, dist/sw-token-guardian.classic.js, for apps
// without a bundler. The script bundles every dependency and defines one global, so a worker
// script can call `importScripts(url)` and then `swTokenGuardian.installTokenGuardian(config)`.
import { GuardianError, installTokenGuardian } from './index.ts';

declare global {
  /** The guardian's API, defined by the prebuilt classic worker script. */
  var swTokenGuardian: {
    installTokenGuardian: typeof installTokenGuardian;
    GuardianError: typeof GuardianError;
  };
}

globalThis.swTokenGuardian = { installTokenGuardian, GuardianError };
