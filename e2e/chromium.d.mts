export interface FoundChromium {
  path: string;
  source: string;
}

/** Returns the first Chromium found, or null. Installs nothing. */
export function findChromium(): FoundChromium | null;
