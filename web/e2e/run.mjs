#!/usr/bin/env node
// End-to-end check of Ward's web UI against a running Ward (HTTPS, self-signed).
//
// node e2e/run.mjs --url https://127.0.0.1:PORT --user alice --password PW \
//   --auditor-user audrey --auditor-password PW2 --search TEXT \
//   --masked-session ID --tampered-session ID --forbidden-session ID [--out e2e-output]
//   [--terminal-session ID --terminal-text TEXT] [--live-session ID --terminate-reason TEXT]
//   [--live-terminal-session ID --live-terminal-text TEXT --live-terminal-later-text TEXT
//    [--live-terminal-signal FILE]]
//   [--request-resource NAME --request-reason TEXT --request-duration 30m --approval-comment TEXT]
//
// The optional terminal step (both --terminal-* args together) replays an ssh session as the
// auditor: play, "Jump to end", the player's text contains TEXT, the command marker list is
// non-empty. It runs right after integrity-tampered, so later screenshot numbers shift by one
// when it is enabled; without the args the steps and their numbers are unchanged. The optional
// terminate step (--live-session and --terminate-reason together) ends a live session as the
// auditor, with the reason, and waits until its page says `terminated`; it runs after the
// terminal step. The optional live terminal steps (the three --live-terminal-* args together) run
// before it, as the auditor: they open the ssh session ID while it is live, see the player's "Live"
// indicator (following) and TEXT, but not yet the later text; then (after creating FILE, when
// --live-terminal-signal is given: the session may wait for it before printing more) see the later
// text appear without a reload; then see the session end (the player says so and the page's
// badge is no longer live). The optional approval steps (the four --request-*/--approval-* args together)
// run after own-sessions-only: the user asks for NAME on the Access requests page and sees the
// request pending (with no Approve button: nobody reviews their own), signs out, the auditor
// (who must be in the grant's approver group) opens /requests/ID directly, as a notification
// link would, approves it with the comment and sees it approved. They print `request ID`.
//
// Drives the system Chromium (/usr/bin/chromium) with playwright-core; never downloads a browser.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const REQUIRED = ['url', 'user', 'password', 'auditor-user', 'auditor-password', 'search', 'masked-session', 'tampered-session', 'forbidden-session'];
const APPROVAL = ['request-resource', 'request-reason', 'request-duration', 'approval-comment'];
const LIVE_TERMINAL = ['live-terminal-session', 'live-terminal-text', 'live-terminal-later-text'];
const STEP_TIMEOUT = 15_000;

function parseArgs(argv) {
  const o = { out: 'e2e-output' };
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
  const missing = REQUIRED.filter((k) => !o[k]);
  if (missing.length) die(`missing required argument(s): ${missing.map((m) => '--' + m).join(' ')}`);
  if (!o['terminal-session'] !== !o['terminal-text']) die('--terminal-session and --terminal-text must be given together');
  if (!o['live-session'] !== !o['terminate-reason']) die('--live-session and --terminate-reason must be given together');
  const live = LIVE_TERMINAL.filter((k) => o[k]);
  if (live.length && live.length !== LIVE_TERMINAL.length) die(`${LIVE_TERMINAL.map((k) => '--' + k).join(', ')} must be given together`);
  if (o['live-terminal-signal'] && !live.length) die('--live-terminal-signal needs the other --live-terminal-* args');
  const approval = APPROVAL.filter((k) => o[k]);
  if (approval.length && approval.length !== APPROVAL.length) die(`${APPROVAL.map((k) => '--' + k).join(', ')} must be given together`);
  o.url = o.url.replace(/\/+$/, '');
  return o;
}

function die(msg) {
  console.error(`error: ${msg}`);
  console.error(
    `usage: node e2e/run.mjs ${REQUIRED.map((k) => `--${k} V`).join(' ')} [--out DIR] [--terminal-session ID --terminal-text TEXT]` +
      ` [--live-session ID --terminate-reason TEXT] [${LIVE_TERMINAL.map((k) => `--${k} V`).join(' ')} [--live-terminal-signal FILE]]` +
      ` [${APPROVAL.map((k) => `--${k} V`).join(' ')}]`,
  );
  process.exit(1);
}

const opt = parseArgs(process.argv.slice(2));
fs.mkdirSync(opt.out, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(STEP_TIMEOUT);
page.setDefaultNavigationTimeout(STEP_TIMEOUT);
const consoleErrors = [];
page.on('console', (m) => m.type() === 'error' && !/status of 401/.test(m.text()) && consoleErrors.push(m.text()));
page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));

let n = 0;
async function step(name, fn) {
  n++;
  const file = path.join(opt.out, `${String(n).padStart(2, '0')}-${name}.png`);
  let timer;
  try {
    await Promise.race([
      fn(),
      new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${STEP_TIMEOUT / 1000}s`)), STEP_TIMEOUT))),
    ]);
    clearTimeout(timer);
    await page.screenshot({ path: file, fullPage: false });
    console.log(`ok ${name}`);
  } catch (e) {
    clearTimeout(timer);
    const failFile = file.replace(/\.png$/, '-FAILED.png');
    await page.screenshot({ path: failFile, fullPage: false }).catch(() => {});
    console.error(`FAIL ${name}: ${e.message.split('\n')[0]}`);
    console.error(`  page: ${page.url()}`);
    console.error(`  screenshot: ${failFile}`);
    if (consoleErrors.length) console.error(`  browser console errors:\n    ${consoleErrors.slice(-5).join('\n    ')}`);
    await browser.close().catch(() => {});
    process.exit(1);
  }
}

const tid = (id) => `[data-testid="${id}"]`;
function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function expectLoginPage() {
  await page.locator(tid('login-username')).waitFor({ state: 'visible' });
  await page.locator(tid('login-password')).waitFor({ state: 'visible' });
  await page.locator(tid('login-submit')).waitFor({ state: 'visible' });
}

async function login(user, password) {
  await expectLoginPage();
  await page.fill(tid('login-username'), user);
  await page.fill(tid('login-password'), password);
  await page.click(tid('login-submit'));
  await page.locator(tid('logout')).waitFor({ state: 'visible' });
}

async function logout() {
  await page.click(tid('logout'));
  await expectLoginPage();
}

async function openSession(id) {
  await page.goto(`${opt.url}/sessions/${encodeURIComponent(id)}`);
}

async function rowsLoaded() {
  // the list is loaded when it shows rows or the "empty" note and is not busy
  await page.waitForFunction(() => {
    const t = document.querySelector('[data-testid="session-table"]');
    if (!t || t.getAttribute('aria-busy') === 'true') return false;
    return document.querySelectorAll('[data-testid="session-row"]').length > 0 || !!document.querySelector('[data-testid="empty"]') || !!document.querySelector('[data-testid="error-banner"]');
  });
  const banner = page.locator(tid('error-banner'));
  if (await banner.count()) throw new Error(`session list failed: ${await banner.first().innerText()}`);
}

// 1. login page, wrong password, auditor login
await step('login-page', async () => {
  await page.goto(opt.url + '/');
  await expectLoginPage();
});
await step('wrong-password', async () => {
  await page.fill(tid('login-username'), opt['auditor-user']);
  await page.fill(tid('login-password'), `wrong-${Date.now()}`);
  await page.click(tid('login-submit'));
  const err = page.locator(tid('login-error'));
  await err.waitFor({ state: 'visible' });
  const text = (await err.innerText()).trim();
  check(text.length > 0, 'login error is empty');
  check(await page.locator(tid('logout')).count() === 0, 'wrong password logged in');
  console.log(`   login error: ${JSON.stringify(text)}`);
});
await step('login-auditor', async () => {
  await login(opt['auditor-user'], opt['auditor-password']);
  await page.locator(tid('auditor-tag')).waitFor({ state: 'visible' });
  await page.locator(tid('search-input')).waitFor({ state: 'visible' });
  await rowsLoaded();
});

// 2. full-text search
await step('search', async () => {
  await page.fill(tid('search-input'), opt.search);
  await page.press(tid('search-input'), 'Enter');
  await page.waitForURL((u) => new URL(u).searchParams.get('q') === opt.search);
  const norm = (s) => s.replace(/\s+/g, ' ').trim().toLowerCase();
  const handle = await page.waitForFunction(
    (needle) => {
      const n = (s) => s.replace(/\s+/g, ' ').trim().toLowerCase();
      for (const row of document.querySelectorAll('[data-testid="session-row"]')) {
        for (const sn of row.querySelectorAll('[data-testid="snippet"]')) {
          if (sn.querySelector('mark') && n(sn.textContent || '').includes(needle)) return row.getAttribute('data-session-id');
        }
      }
      return false;
    },
    norm(opt.search),
  );
  const sid = await handle.jsonValue();
  const rows = await page.locator(tid('session-row')).count();
  console.log(`   ${rows} matching session row(s); first with highlighted snippet: ${sid}`);
});
await step('search-url-reload', async () => {
  await page.reload();
  await page.waitForFunction((q) => {
    const i = document.querySelector('[data-testid="search-input"]');
    return i && i.value === q && document.querySelector('[data-testid="session-row"] [data-testid="snippet"] mark');
  }, opt.search);
});

// 3. masked session: result table with masked cells
await step('masked-session', async () => {
  await openSession(opt['masked-session']);
  await page.locator(tid('session-detail')).waitFor({ state: 'visible' });
  await page.locator(tid('timeline')).waitFor({ state: 'visible' });
  await page.locator(`${tid('timeline')} ${tid('timeline-item')}`).first().waitFor({ state: 'visible' });
  const tl = page.locator(tid('timeline'));
  const tried = new Set();
  for (;;) {
    if (await page.locator(`${tid('result-table')} ${tid('masked-cell')}`).count()) break;
    // expand a collapsed result still visible; prefer those flagged as containing masked values
    const toggles = page.locator(`${tid('timeline-item')}[data-kind="db.result"] ${tid('result-toggle')}[aria-expanded="false"]`);
    const count = await toggles.count();
    let clicked = false;
    const order = [];
    for (let i = 0; i < count; i++) {
      const item = toggles.nth(i).locator('xpath=ancestor::*[@data-testid="timeline-item"][1]');
      const seq = await item.getAttribute('data-seq');
      if (tried.has(seq)) continue;
      const masked = (await item.getAttribute('data-masked')) === 'true' || (await item.innerText()).includes('masked');
      order.push({ i, seq, masked });
    }
    order.sort((a, b) => Number(b.masked) - Number(a.masked));
    if (order.length) {
      tried.add(order[0].seq);
      await toggles.nth(order[0].i).click();
      clicked = true;
      await page.waitForTimeout(50);
    }
    if (!clicked) {
      const moved = await tl.evaluate((el) => {
        const before = el.scrollTop;
        el.scrollTop = before + el.clientHeight * 0.8;
        return el.scrollTop > before;
      });
      await page.waitForTimeout(moved ? 150 : 400);
      if (!moved && !(await toggles.count())) {
        const more = page.getByRole('button', { name: 'Load more events' });
        if (await more.count()) await more.click();
        else throw new Error('reached the end of the timeline without finding a masked cell in a result table');
      }
    }
  }
  const cell = page.locator(`${tid('result-table')} ${tid('masked-cell')}`).first();
  await cell.scrollIntoViewIfNeeded();
  check((await cell.getAttribute('data-masked')) === 'true', 'masked-cell lacks data-masked="true"');
  console.log(`   masked cell: ${JSON.stringify((await cell.innerText()).trim())}`);
});

// 4. integrity badges
await step('integrity-ok', async () => {
  const b = page.locator(tid('integrity-badge'));
  await b.waitFor({ state: 'visible' });
  const ok = await b.getAttribute('data-ok');
  const status = await b.getAttribute('data-status');
  check(ok === 'true', `masked session integrity is not ok: status=${status} detail=${await b.innerText()}`);
  await b.scrollIntoViewIfNeeded();
  console.log(`   masked session integrity: ${status}`);
});
await step('integrity-tampered', async () => {
  await openSession(opt['tampered-session']);
  await page.locator(tid('session-detail')).waitFor({ state: 'visible' });
  const b = page.locator(tid('integrity-badge'));
  await b.waitFor({ state: 'visible' });
  check((await b.getAttribute('data-ok')) === 'false', `tampered session badge has data-ok=${await b.getAttribute('data-ok')}`);
  const detail = (await page.locator(`${tid('integrity-badge')} ${tid('integrity-detail')}`).innerText()).trim();
  check(detail.length > 0, 'tampered session badge shows no detail text');
  console.log(`   tampered: status=${await b.getAttribute('data-status')} detail=${JSON.stringify(detail)}`);
});

// 4b. optional: terminal replay of an ssh session (asciicast player)
if (opt['terminal-session']) {
  await step('terminal-replay', async () => {
    await openSession(opt['terminal-session']);
    await page.locator(tid('session-detail')).waitFor({ state: 'visible' });
    // the player, or the error banner if the recording cannot be loaded
    await page.locator(`${tid('terminal-player')}, ${tid('terminal-error')}`).first().waitFor({ state: 'visible' });
    const err = page.locator(tid('terminal-error'));
    if (await err.count()) throw new Error(`terminal player failed to load: ${(await err.innerText()).trim()}`);
    await page.click(tid('terminal-play'));
    await page.waitForTimeout(300);
    await page.click(tid('terminal-seek-end'));
    const norm = (s) => s.replace(/\s+/g, ' ').trim();
    try {
      await page.waitForFunction(
        (needle) => {
          const el = document.querySelector('[data-testid="terminal-player"]');
          return !!el && (el.textContent || '').replace(/\s+/g, ' ').includes(needle);
        },
        norm(opt['terminal-text']),
        { timeout: 5000 },
      );
    } catch {
      // the visible rows only (the container also holds xterm's <style> elements)
      const text = norm(await page.locator(`${tid('terminal-player')} .xterm-rows`).first().innerText().catch(() => ''));
      throw new Error(`terminal text does not contain ${JSON.stringify(opt['terminal-text'])}; it ends with: ${JSON.stringify(text.slice(-200))}`);
    }
    const markers = await page.locator(`${tid('terminal-markers')} ${tid('terminal-marker')}`).count();
    check(markers > 0, 'the terminal player shows no command markers');
    const pos = await page.getAttribute(tid('terminal-player'), 'data-position');
    const dur = await page.getAttribute(tid('terminal-player'), 'data-duration');
    console.log(`   replayed to ${pos}/${dur} s; ${markers} command marker(s); text found`);
  });
}

// 4c. optional: the auditor follows a live ssh session's terminal as it happens
if (opt['live-terminal-session']) {
  const first = opt['live-terminal-text'];
  const later = opt['live-terminal-later-text'];
  const norm = (s) => s.replace(/\s+/g, ' ').trim();
  // the visible rows only (the player's container also holds xterm's <style> elements)
  const rowsText = async () => norm(await page.locator(`${tid('terminal-player')} .xterm-rows`).first().innerText().catch(() => ''));
  const waitText = async (needle, timeout) => {
    try {
      await page.waitForFunction(
        (n) => {
          const el = document.querySelector('[data-testid="terminal-player"] .xterm-rows');
          return !!el && (el.textContent || '').replace(/\s+/g, ' ').includes(n);
        },
        norm(needle),
        { timeout },
      );
    } catch {
      throw new Error(`the live terminal does not show ${JSON.stringify(needle)}; it ends with: ${JSON.stringify((await rowsText()).slice(-200))}`);
    }
  };
  // set on the page once: still there later means the page was not reloaded
  const token = `live-${Date.now()}`;
  const sameDocument = async () =>
    check((await page.evaluate(() => window.__wardLiveToken)) === token, 'the page was reloaded (it must update by itself)');
  await step('live-terminal-follow', async () => {
    await openSession(opt['live-terminal-session']);
    await page.locator(tid('session-detail')).waitFor({ state: 'visible' });
    await page.locator(`${tid('terminal-live')}, ${tid('terminal-error')}`).first().waitFor({ state: 'visible' });
    const err = page.locator(tid('terminal-error'));
    if (await err.count()) throw new Error(`terminal player failed to load: ${(await err.innerText()).trim()}`);
    const live = page.locator(tid('terminal-live'));
    const state = await live.getAttribute('data-state');
    check(state === 'following', `the player of the live session is ${JSON.stringify(state)}, not following (is the session live?)`);
    check((await live.innerText()).includes('Live'), 'the live indicator does not say Live');
    check((await page.locator(`${tid('session-detail')} h1 .badge-live`).count()) === 1, 'the page does not show the session as live');
    await page.locator(`${tid('terminal-follow')}[aria-pressed="true"]`).waitFor({ state: 'visible' });
    await waitText(first, 10_000);
    check(!(await rowsText()).includes(norm(later)), `${JSON.stringify(later)} is shown already: the session printed it before the player was opened`);
    // pause following and resume it
    await page.click(tid('terminal-follow'));
    await page.locator(`${tid('terminal-live')}[data-state="paused"]`).waitFor({ state: 'visible' });
    await page.locator(`${tid('terminal-follow')}[aria-pressed="false"]`).waitFor({ state: 'visible' });
    await page.click(tid('terminal-follow'));
    await page.locator(`${tid('terminal-live')}[data-state="following"]`).waitFor({ state: 'visible' });
    await page.evaluate((t) => {
      window.__wardLiveToken = t;
    }, token);
    console.log(`   live, following; ${JSON.stringify(first)} shown`);
  });
  await step('live-terminal-update', async () => {
    if (opt['live-terminal-signal']) fs.writeFileSync(opt['live-terminal-signal'], 'go\n');
    const since = Date.now();
    await waitText(later, 12_000);
    await sameDocument();
    check((await rowsText()).includes(norm(first)), `${JSON.stringify(first)} is no longer shown`);
    const state = await page.getAttribute(tid('terminal-live'), 'data-state');
    console.log(`   ${JSON.stringify(later)} appeared after ${((Date.now() - since) / 1000).toFixed(1)} s, without a reload (player: ${state})`);
  });
  await step('live-terminal-ended', async () => {
    await page.locator(`${tid('terminal-live')}[data-state="ended"]`).waitFor({ state: 'visible', timeout: 12_000 });
    await page.locator(`${tid('session-detail')} h1 .badge-live`).waitFor({ state: 'detached', timeout: 5_000 });
    await sameDocument();
    check((await page.locator(tid('terminal-follow')).count()) === 0, 'the ended session still offers to follow it');
    // now it plays like any recording: from the start, then to its end
    await page.click(tid('terminal-play'));
    await page.waitForTimeout(200);
    await page.click(tid('terminal-seek-end'));
    await waitText(later, 5_000);
    const outcome = (await page.locator(`${tid('session-detail')} h1 .badge`).first().innerText()).trim();
    const dur = await page.getAttribute(tid('terminal-player'), 'data-duration');
    console.log(`   ended (${outcome}); ${dur} s recorded, plays to its end`);
  });
}

// 4d. optional: the auditor ends a live session
if (opt['live-session']) {
  await step('terminate-live-session', async () => {
    await openSession(opt['live-session']);
    await page.locator(tid('session-detail')).waitFor({ state: 'visible' });
    await page.click(tid('terminate'));
    await page.fill(tid('terminate-reason'), opt['terminate-reason']);
    await page.click(tid('terminate-confirm'));
    await page.locator('.badge-terminated').first().waitFor({ state: 'visible', timeout: 10_000 });
    console.log('   the session page says terminated');
  });
}

// 5. non-auditor: forbidden session, own sessions only
await step('logout-auditor', async () => {
  await logout();
});
await step('login-user', async () => {
  await login(opt.user, opt.password);
  check((await page.locator(tid('auditor-tag')).count()) === 0, `${opt.user} is shown as auditor`);
});
await step('forbidden-session', async () => {
  await openSession(opt['forbidden-session']);
  const banner = page.locator(tid('error-banner'));
  await banner.waitFor({ state: 'visible' });
  const text = (await banner.innerText()).trim();
  check(/not allowed|may not|forbidden|not permitted/i.test(text), `error banner does not say it is forbidden: ${JSON.stringify(text)}`);
  check((await page.locator(tid('session-detail')).count()) === 0, 'forbidden session detail is rendered');
  console.log(`   banner: ${JSON.stringify(text)}`);
});
await step('own-sessions-only', async () => {
  await page.goto(`${opt.url}/sessions`);
  await rowsLoaded();
  const users = await page.locator(`${tid('session-row')}`).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-user')));
  const others = users.filter((u) => u !== opt.user);
  check(others.length === 0, `list shows other users' sessions: ${[...new Set(others)].join(', ')}`);
  if (users.length === 0) console.log(`   warning: ${opt.user} has no sessions in the list`);
  else console.log(`   ${users.length} row(s), all owned by ${opt.user}`);
});

// 5b. optional: the user asks for access, the auditor approves it from its own page
if (opt['request-resource']) {
  let requestId = '';
  const row = () => page.locator(`${tid('request-row')}[data-request-id="${requestId}"]`);
  await step('request-access', async () => {
    await page.click(tid('nav-requests'));
    await page.waitForURL((u) => new URL(u).pathname === '/requests');
    await page.locator(tid('request-form')).waitFor({ state: 'visible' });
    check((await page.inputValue(tid('request-duration'))) === '1h', 'the duration does not default to 1h');
    await page.fill(tid('request-resource'), opt['request-resource']);
    await page.fill(tid('request-reason'), opt['request-reason']);
    await page.fill(tid('request-duration'), opt['request-duration']);
    await page.click(tid('request-submit'));
    const done = page.locator(`${tid('request-created')}, ${tid('request-error')}`).first();
    await done.waitFor({ state: 'visible' });
    const err = page.locator(tid('request-error'));
    if (await err.count()) throw new Error(`asking for access failed: ${(await err.innerText()).trim()}`);
    requestId = (await page.getAttribute(tid('request-created'), 'data-request-id')) ?? '';
    check(/^[0-9a-f]+$/.test(requestId), `the created request has no id: ${JSON.stringify(requestId)}`);
    await row().waitFor({ state: 'visible' });
    check((await row().getAttribute('data-state')) === 'pending', `request ${requestId} is ${await row().getAttribute('data-state')}, not pending`);
    const text = (await row().innerText()).replace(/\s+/g, ' ');
    for (const want of [opt['request-resource'], opt['request-reason'], opt['request-duration'], '0 / 1']) {
      check(text.includes(want), `the request row does not show ${JSON.stringify(want)}: ${JSON.stringify(text)}`);
    }
    check((await row().locator(tid('approve')).count()) === 0, 'the requester is offered to approve their own request');
    console.log(`   request ${requestId}`);
  });
  await step('logout-requester', async () => {
    await logout();
  });
  await step('login-approver', async () => {
    await login(opt['auditor-user'], opt['auditor-password']);
  });
  await step('approve-request', async () => {
    // as the link in a webhook notification: straight to the request's page
    await page.goto(`${opt.url}/requests/${requestId}`);
    const detail = page.locator(tid('request-detail'));
    await page.locator(`${tid('request-detail')}, ${tid('error-banner')}`).first().waitFor({ state: 'visible' });
    const banner = page.locator(tid('error-banner'));
    if (await banner.count()) throw new Error(`request page failed: ${(await banner.innerText()).trim()}`);
    check((await detail.getAttribute('data-state')) === 'pending', `request ${requestId} is ${await detail.getAttribute('data-state')} before the review`);
    check((await page.locator(tid('request-reason-text')).innerText()).includes(opt['request-reason']), 'the request page does not show the reason');
    check((await detail.locator(`${tid('session-link')}`).count()) > 0, 'the request page links no recorded session');
    await page.click(tid('approve'));
    await page.fill(tid('review-comment'), opt['approval-comment']);
    await page.click(tid('review-confirm'));
    await page.locator(`${tid('request-detail')}[data-state="approved"], ${tid('review-error')}`).first().waitFor({ state: 'visible' });
    const err = page.locator(tid('review-error'));
    if (await err.count()) throw new Error(`approving failed: ${(await err.innerText()).trim()}`);
    const review = page.locator(`${tid('review')}[data-reviewer="${opt['auditor-user']}"]`);
    await review.waitFor({ state: 'visible' });
    check((await review.getAttribute('data-approved')) === 'true', 'the review is not an approval');
    check((await review.innerText()).includes(opt['approval-comment']), 'the review does not show the comment');
    check((await review.locator(tid('session-link')).count()) === 1, 'the review links no recorded session');
    check((await page.locator(tid('approve')).count()) === 0, 'the approved request still offers Approve');
    const until = (await page.locator(tid('request-expires')).innerText()).trim();
    console.log(`   approved; open until ${until}`);
  });
}

// 6. log out
await step('logout', async () => {
  await logout();
  // the session cookie is really gone: a reload still shows the login page
  await page.reload();
  await expectLoginPage();
});

await browser.close();
console.log(`all steps passed; screenshots in ${opt.out}`);
