// Finds a Chromium for the tests, and with --ensure obtains one when none is found.
// Order: $CHROMIUM_PATH, Debian's /usr/bin/chromium, Playwright's own download. With --ensure,
// a missing browser is installed through apt-get (as root, unless CHROMIUM_NO_APT=1) or,
// failing that, through `playwright install chromium` where the network allows.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chromium } from '@playwright/test';

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Returns `{ path, source }` for the first Chromium found, or null. Installs nothing. */
export function findChromium() {
  const fromEnvironment = process.env.CHROMIUM_PATH;
  if (fromEnvironment) {
    if (!isExecutable(fromEnvironment)) {
      throw new Error(`CHROMIUM_PATH=${fromEnvironment} is not an executable file; point it at a Chromium binary or unset it`);
    }
    return { path: fromEnvironment, source: 'CHROMIUM_PATH' };
  }
  for (const path of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (isExecutable(path)) return { path, source: "Debian's chromium package" };
  }
  const bundled = chromium.executablePath();
  if (bundled && isExecutable(bundled)) return { path: bundled, source: "Playwright's own download" };
  return null;
}

function tryApt() {
  if (process.env.CHROMIUM_NO_APT === '1' || process.getuid?.() !== 0) return false;
  if (spawnSync('which', ['apt-get']).status !== 0) return false;
  console.log('chromium: not found; installing the Debian package with apt-get');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  if (update.status !== 0) return false;
  return spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env }).status === 0;
}

function tryPlaywrightDownload() {
  console.log("chromium: trying Playwright's own download (needs access to Playwright's browser host)");
  try {
    execFileSync('npx', ['playwright', 'install', 'chromium'], { stdio: 'inherit' });
    return true;
  } catch {
    return false;
  }
}

if (process.argv.includes('--ensure')) {
  let found = findChromium();
  if (found === null && (tryApt() || tryPlaywrightDownload())) found = findChromium();
  if (found === null) {
    console.error('chromium: none found and none could be installed. Install Debian\'s "chromium" package, or set CHROMIUM_PATH to a Chromium binary.');
    process.exit(1);
  }
  const version = spawnSync(found.path, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`chromium: using ${found.path} (${found.source})${version ? `, ${version}` : ''}`);
}
