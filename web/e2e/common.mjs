// What the end-to-end scripts share (e2e/http.mjs, e2e/activity.mjs): their arguments, the
// system Chromium, steps with a screenshot each, and signing in and out of Ward's web UI.
//
// A step prints `ok STEP` and saves OUT/NN-step.png; on failure it prints `FAIL STEP: reason`,
// saves OUT/NN-step-FAILED.png and exits with status 1. Per-step timeout 15 s. Drives the system
// Chromium (/usr/bin/chromium, or CHROMIUM_PATH) with playwright-core; never downloads a browser.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const STEP_TIMEOUT = 15_000;

/** A test id's selector. */
export const tid = (id) => `[data-testid="${id}"]`;

export function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

/**
 * `--name value` / `--name=value` into an object over `defaults`; exits with the usage line
 * when one of `required` is missing.
 */
export function parseArgs(script, required, defaults, argv = process.argv.slice(2)) {
  const die = (msg) => {
    console.error(`error: ${msg}`);
    console.error(`usage: node e2e/${script} ${required.map((k) => `--${k} V`).join(' ')} [--out DIR]`);
    process.exit(1);
  };
  const o = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) die(`unexpected argument: ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) o[a.slice(2, eq)] = a.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) die(`missing value for ${a}`);
      o[a.slice(2)] = argv[++i];
    }
  }
  const missing = required.filter((k) => !o[k]);
  if (missing.length) die(`missing required argument(s): ${missing.map((m) => '--' + m).join(' ')}`);
  o.url = o.url.replace(/\/+$/, '');
  return o;
}

/**
 * Launches Chromium (Ward's certificate is self-signed: HTTPS errors are ignored) with one page,
 * and the steps' screenshots going to `out`.
 */
export async function launch(out) {
  fs.mkdirSync(out, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const consoleErrors = [];
  /** Step timeouts for another page (a new tab), and its console errors, labelled. */
  const watch = (p, label) => {
    p.setDefaultTimeout(STEP_TIMEOUT);
    p.setDefaultNavigationTimeout(STEP_TIMEOUT);
    p.on('console', (m) => m.type() === 'error' && !/status of 401/.test(m.text()) && consoleErrors.push(`${label}: ${m.text()}`));
    p.on('pageerror', (e) => consoleErrors.push(`${label}: pageerror: ${e.message}`));
  };
  watch(page, 'ui');
  // The page a step's screenshot shows.
  let shown = page;
  let n = 0;

  const ui = {
    browser,
    context,
    page,
    watch,
    /** Screenshots show `p` from now on (a tab that a step looks at). */
    show(p) {
      shown = p;
    },
    async step(name, fn) {
      n++;
      const file = path.join(out, `${String(n).padStart(2, '0')}-${name}.png`);
      let timer;
      try {
        await Promise.race([
          fn(),
          new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${STEP_TIMEOUT / 1000}s`)), STEP_TIMEOUT))),
        ]);
        clearTimeout(timer);
        await shown.screenshot({ path: file, fullPage: false });
        console.log(`ok ${name}`);
      } catch (e) {
        clearTimeout(timer);
        const failFile = file.replace(/\.png$/, '-FAILED.png');
        await shown.screenshot({ path: failFile, fullPage: false }).catch(() => {});
        console.error(`FAIL ${name}: ${e.message.split('\n')[0]}`);
        console.error(`  page: ${shown.url()}`);
        console.error(`  screenshot: ${failFile}`);
        if (consoleErrors.length) console.error(`  browser console errors:\n    ${consoleErrors.slice(-5).join('\n    ')}`);
        await browser.close().catch(() => {});
        process.exit(1);
      }
    },
    async login(user, password) {
      await page.locator(tid('login-username')).waitFor({ state: 'visible' });
      await page.fill(tid('login-username'), user);
      await page.fill(tid('login-password'), password);
      await page.click(tid('login-submit'));
      await page.locator(tid('logout')).waitFor({ state: 'visible' });
    },
    async logout() {
      await page.click(tid('logout'));
      await page.locator(tid('login-username')).waitFor({ state: 'visible' });
    },
    async close() {
      await browser.close();
    },
  };
  return ui;
}
