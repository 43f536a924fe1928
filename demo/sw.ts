// The demo app's service worker script. The demo server prepends the configuration, which
// depends on the ports it listens on; a real app writes its configuration here inline.
import { installTokenGuardian, type GuardianConfig } from '../sw/index.ts';

declare const GUARDIAN_DEMO_CONFIG: GuardianConfig;

installTokenGuardian(GUARDIAN_DEMO_CONFIG);
