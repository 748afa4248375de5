import { accessSync, constants } from 'node:fs';

/** Where the dashboard tests look for Chromium: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** CI sets `CI=true`: there a missing browser is a failure, not a skip. */
export const IN_CI = !!process.env.CI && !['0', 'false'].includes(process.env.CI.toLowerCase());

export const HOW_TO_INSTALL =
  'install it (Debian/Ubuntu: `apt-get install chromium`) or point CHROMIUM_PATH at a Chromium or Chrome binary';

export function chromiumFound(path = CHROMIUM): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether to skip the browser suite: only outside CI and only without a browser, saying so on one
 * line of stderr (written directly, so the test runner shows it as it is).
 */
export function skipWithoutBrowser(suite: string): boolean {
  if (IN_CI || chromiumFound()) return false;
  process.stderr.write(`${suite}: skipped, no Chromium at ${CHROMIUM}: ${HOW_TO_INSTALL} (under CI=true this suite fails instead)\n`);
  return true;
}
