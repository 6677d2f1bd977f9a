#!/usr/bin/env node
// End-to-end check of a recorded database session in Ward's web UI: its statements, a result
// table and an error, for any database protocol (the Rust test runs it on a MySQL session).
//
// node e2e/db.mjs --url https://127.0.0.1:PORT --user alice --password PW --protocol mysql \
//   --resource shop --statement TEXT --cell TEXT [--masked-column NAME] [--error TEXT] \
//   [--type-title TEXT] [--out e2e-db-output]
//
// The user signs in and finds RESOURCE on the Resources page, of kind PROTOCOL, with how to
// reach it. On the Sessions page, filtered by PROTOCOL, they open their newest session of it:
// its page says PROTOCOL and shows the database timeline, with the statement STATEMENT. Under
// it, its result's rows open as a table with a cell TEXT (and, with --masked-column, that
// column's cells marked masked; with --type-title, a column header whose tooltip starts with
// it, as `MySQL type`). With --error, an error of the session reads TEXT (`ERROR 1146 (42S02)`).
// Prints `session ID`.
//
// Each step prints `ok STEP` and saves OUT/NN-step.png; on failure `FAIL STEP: reason`, a
// screenshot OUT/NN-step-FAILED.png, exit status 1 (e2e/common.mjs). Drives the system Chromium
// (/usr/bin/chromium, or CHROMIUM_PATH) with playwright-core; never downloads a browser.
import { check, launch, parseArgs, tid } from './common.mjs';

const REQUIRED = ['url', 'user', 'password', 'protocol', 'resource', 'statement', 'cell'];

const opt = parseArgs('db.mjs', REQUIRED, { out: 'e2e-db-output' });
const ui = await launch(opt.out);
const { page, step, login, logout } = ui;

const norm = (s) => s.replace(/\s+/g, ' ').trim();
let sessionId = '';

await step('login', async () => {
  await page.goto(opt.url + '/');
  await login(opt.user, opt.password);
});

await step('resources', async () => {
  await page.click(tid('nav-resources'));
  await page.waitForURL((u) => new URL(u).pathname === '/resources');
  const row = page.locator(`${tid('resource-row')}[data-resource="${opt.resource}"]`);
  await row.waitFor({ state: 'visible' });
  const kind = await row.getAttribute('data-kind');
  check(kind === opt.protocol, `${opt.resource} is of kind ${kind}, not ${opt.protocol}`);
  const how = norm(await row.locator('td').nth(2).innerText());
  check(!how.startsWith(`a ${opt.protocol} client`), `${opt.resource} has no description of its own: ${JSON.stringify(how)}`);
  console.log(`   ${opt.resource} (${kind}): ${how}`);
});

await step('sessions', async () => {
  await page.click('nav a[href="/sessions"]');
  await page.waitForURL((u) => new URL(u).pathname === '/sessions');
  await page.selectOption(tid('filter-protocol'), opt.protocol);
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL((u) => new URL(u).searchParams.get('protocol') === opt.protocol);
  await page.waitForFunction((protocol) => {
    const t = document.querySelector('[data-testid="session-table"]');
    return !!t && t.getAttribute('aria-busy') !== 'true' && document.querySelectorAll(`[data-testid="session-row"][data-protocol="${protocol}"]`).length > 0;
  }, opt.protocol);
  const others = await page.locator(`${tid('session-row')}:not([data-protocol="${opt.protocol}"])`).count();
  check(others === 0, `the ${opt.protocol} filter shows ${others} session(s) of other protocols`);
  const newest = page.locator(`${tid('session-row')}[data-protocol="${opt.protocol}"]`).first();
  sessionId = (await newest.getAttribute('data-session-id')) ?? '';
  await newest.locator('a').first().click();
  await page.waitForURL((u) => new URL(u).pathname === `/sessions/${sessionId}`);
  console.log(`session ${sessionId}`);
});

// The statement's timeline item, once the timeline shows it.
const statement = () =>
  page.locator(`${tid('timeline-item')}[data-kind="db.query"]`).filter({ has: page.locator('pre.sql', { hasText: opt.statement }) });

await step('statements', async () => {
  await page.locator(tid('session-detail')).waitFor({ state: 'visible' });
  // (the labels are upper-cased by CSS)
  const facts = norm(await page.locator('dl.facts').innerText()).toLowerCase();
  check(facts.includes(`protocol ${opt.protocol}`), `the session's facts do not say protocol ${opt.protocol}: ${JSON.stringify(facts)}`);
  const title = page.locator(tid('view-title'));
  check((await title.getAttribute('data-view')) === 'db', `the session opens on the ${await title.getAttribute('data-view')} view, not the database timeline`);
  await page.locator(tid('timeline')).waitFor({ state: 'visible' });
  await statement().first().waitFor({ state: 'visible' });
  const queries = await page.locator(`${tid('timeline-item')}[data-kind="db.query"] pre.sql`).allInnerTexts();
  console.log(`   ${queries.length} statement(s): ${queries.map((q) => JSON.stringify(q.slice(0, 40))).join(', ')}`);
});

if (opt.error) {
  await step('error', async () => {
    const error = page.locator(tid('db-error')).filter({ hasText: opt.error });
    await error.first().scrollIntoViewIfNeeded();
    await error.first().waitFor({ state: 'visible' });
    console.log(`   ${norm(await error.first().innerText())}`);
  });
}

await step('result-table', async () => {
  // The statement's result: the first db.result after it on the timeline.
  const seq = Number(await statement().first().getAttribute('data-seq'));
  const results = page.locator(`${tid('timeline-item')}[data-kind="db.result"]`);
  let result = null;
  for (let i = 0; i < (await results.count()); i++) {
    if (Number(await results.nth(i).getAttribute('data-seq')) > seq) {
      result = results.nth(i);
      break;
    }
  }
  check(result, `no result follows the statement (#${seq})`);
  await result.locator(tid('result-toggle')).click();
  const table = result.locator(tid('result-table'));
  await table.waitFor({ state: 'visible' });
  const cells = (await table.locator('tbody td:not(.rownum)').allInnerTexts()).map(norm);
  check(cells.includes(opt.cell), `the result table has no cell ${JSON.stringify(opt.cell)}: ${JSON.stringify(cells)}`);
  const headers = (await table.locator('thead th:not(.rownum)').allInnerTexts()).map(norm);
  if (opt['masked-column']) {
    const col = headers.indexOf(opt['masked-column']);
    check(col >= 0, `the result table has no column ${opt['masked-column']}: ${JSON.stringify(headers)}`);
    // +2: nth-child counts from 1, and the row number comes first
    const column = table.locator(`tbody tr td:nth-child(${col + 2})`);
    const n = await column.count();
    const masked = await table.locator(`tbody tr td:nth-child(${col + 2})[data-masked="true"]`).count();
    check(n > 0 && masked > 0, `no cell of ${opt['masked-column']} is marked masked (${masked} of ${n})`);
  }
  if (opt['type-title']) {
    const titles = await table.locator('thead th:not(.rownum)').evaluateAll((ths) => ths.map((th) => th.getAttribute('title') ?? ''));
    check(titles.length > 0 && titles.every((t) => t.startsWith(opt['type-title'])), `the columns' types read ${JSON.stringify(titles)}`);
    console.log(`   column types: ${titles.join(', ')}`);
  }
  console.log(`   columns ${headers.join(', ')}; ${cells.length} cells`);
});

await step('logout', async () => {
  await logout();
});

await ui.close();
console.log(`all steps passed; screenshots in ${opt.out}`);
