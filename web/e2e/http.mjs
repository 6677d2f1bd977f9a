#!/usr/bin/env node
// End-to-end check of opening an HTTP resource from Ward's web UI, and of its recording.
//
// node e2e/http.mjs --url https://127.0.0.1:PORT --user alice --password PW \
//   --auditor-user audrey --auditor-password PW2 --resource api [--out e2e-http-output]
//
// The resource must lead (through Ward) to tools/http-peer's /echo, which answers with the
// JSON of the request it received. The user signs in, opens the Resources page and clicks Open
// on RESOURCE: a new tab posts Ward's launch form and lands on the resource's root, where the
// echo shows that the service got Ward's credential for it (`auth` is "bearer") and not Ward's
// own cookie (`ward_app`). Back in the first tab the user opens their newest http session and
// sees the row `GET /` with status 200, and its details (the cookie not recorded, the echo as
// the response body). The auditor (who has no grant for it) does not see RESOURCE among their
// resources and sees the same session and row. Prints `session ID`, and `launch-token TOKEN`
// (the token the UI posted, for the caller to check that no record holds it).
//
// Each step prints `ok STEP` and saves OUT/NN-step.png; on failure `FAIL STEP: reason`, a
// screenshot OUT/NN-step-FAILED.png, exit status 1 (e2e/common.mjs). Drives the system Chromium
// (/usr/bin/chromium, or CHROMIUM_PATH) with playwright-core; never downloads a browser.
import { check, launch, parseArgs, tid } from './common.mjs';

const REQUIRED = ['url', 'user', 'password', 'auditor-user', 'auditor-password', 'resource'];

const opt = parseArgs('http.mjs', REQUIRED, { out: 'e2e-http-output' });
const ui = await launch(opt.out);
const { context, page, watch, step, login, logout } = ui;

async function resourcesLoaded() {
  await page.waitForFunction(() => {
    const t = document.querySelector('[data-testid="resource-table"]');
    return !!t && t.getAttribute('aria-busy') !== 'true';
  });
  const banner = page.locator(tid('error-banner'));
  if (await banner.count()) throw new Error(`the resources page failed: ${await banner.first().innerText()}`);
}

const resourceRow = () => page.locator(`${tid('resource-row')}[data-resource="${opt.resource}"]`);
// The request for the resource's root, answered 200.
const rootRow = () => page.locator(`${tid('http-exchange')}[data-method="GET"][data-path="/"][data-status="200"]`);
let sessionId = '';

// Waits (the session is live: the timeline reads new events every few seconds) for `GET /` 200.
async function seeRootRow() {
  await page.locator(tid('session-detail')).waitFor({ state: 'visible' });
  await page.locator(tid('http-timeline')).waitFor({ state: 'visible' });
  await rootRow().first().waitFor({ state: 'visible', timeout: 12_000 });
  const row = rootRow().first();
  check((await row.locator(tid('http-method')).innerText()).trim() === 'GET', 'the row does not show the method GET');
  check((await row.locator(tid('http-path')).innerText()).trim() === '/', 'the row does not show the path /');
  const status = row.locator(tid('http-status'));
  check((await status.innerText()).trim() === '200', `the row's status reads ${JSON.stringify(await status.innerText())}`);
  check(((await status.getAttribute('class')) ?? '').includes('st-2xx'), 'the status 200 is not colored as a success');
  return row;
}

await step('login-user', async () => {
  await page.goto(opt.url + '/');
  await login(opt.user, opt.password);
});

await step('resources', async () => {
  await page.click(tid('nav-resources'));
  await page.waitForURL((u) => new URL(u).pathname === '/resources');
  await resourcesLoaded();
  const row = resourceRow();
  await row.waitFor({ state: 'visible' });
  check((await row.getAttribute('data-kind')) === 'http', `${opt.resource} is of kind ${await row.getAttribute('data-kind')}, not http`);
  const url = (await row.locator(tid('resource-url')).innerText()).trim();
  check(/^https:\/\/[^/]+\/[^/]+$/.test(url) && url.endsWith(`/${opt.resource}`), `the resource's URL reads ${JSON.stringify(url)}`);
  console.log(`   ${opt.resource}: ${url}`);
});

let app;
await step('open-resource', async () => {
  const opened = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `/api/v1/resources/${opt.resource}/open`);
  const [tab] = await Promise.all([context.waitForEvent('page'), resourceRow().locator(tid('resource-open')).click()]);
  const launch = await (await opened).json();
  const url = (await resourceRow().locator(tid('resource-url')).innerText()).trim();
  check(launch.launch === `${url}/.ward/launch`, `the launch address is ${JSON.stringify(launch.launch)}`);
  // for the caller to check that the record never holds it
  console.log(`launch-token ${launch.token}`);
  app = tab;
  watch(app, 'resource tab');
  ui.show(app);
  await app.waitForLoadState('load');
  // the launch answers 303 to /RESOURCE/, where the echo answers with JSON
  await app.waitForURL((u) => new URL(u).pathname === `/${opt.resource}/`);
  const text = (await app.locator('body').innerText()).trim();
  let echo;
  try {
    echo = JSON.parse(text);
  } catch {
    throw new Error(`the resource's tab does not show the echo's JSON: ${JSON.stringify(text.slice(0, 300))}`);
  }
  check(echo.auth === 'bearer', `the service got no bearer credential from Ward: auth = ${JSON.stringify(echo.auth)}`);
  const cookie = echo.headers?.cookie ?? '';
  check(!cookie.includes('ward_app'), `Ward's cookie reached the service: cookie = ${JSON.stringify(cookie)}`);
  check(echo.method === 'GET', `the service got a ${echo.method}, not the GET after the launch`);
  console.log(`   ${app.url()}: auth ${echo.auth}, upstream path ${echo.path}, cookie ${JSON.stringify(cookie)}`);
});

await step('opened-notice', async () => {
  ui.show(page);
  await page.bringToFront();
  await resourceRow().locator(tid('resource-opened')).waitFor({ state: 'visible' });
  check((await resourceRow().locator(tid('resource-error')).count()) === 0, 'the resources page shows an error');
  // the token is in the page only while it is posted
  const left = await page.locator('form input[name="token"]').evaluateAll((inputs) => inputs.map((i) => i.value).filter(Boolean));
  check(left.length === 0, 'the launch token is still in the page');
});

await step('http-session', async () => {
  await page.click('nav a[href="/sessions"]');
  await page.waitForURL((u) => new URL(u).pathname === '/sessions');
  await page.selectOption(tid('filter-protocol'), 'http');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL((u) => new URL(u).searchParams.get('protocol') === 'http');
  await page.waitForFunction(() => {
    const t = document.querySelector('[data-testid="session-table"]');
    return !!t && t.getAttribute('aria-busy') !== 'true' && document.querySelectorAll('[data-testid="session-row"][data-protocol="http"]').length > 0;
  });
  const newest = page.locator(`${tid('session-row')}[data-protocol="http"]`).first();
  check((await newest.getAttribute('data-user')) === opt.user, `the newest http session is ${await newest.getAttribute('data-user')}'s`);
  sessionId = (await newest.getAttribute('data-session-id')) ?? '';
  await newest.locator('a').first().click();
  await page.waitForURL((u) => new URL(u).pathname === `/sessions/${sessionId}`);
  await seeRootRow();
  console.log(`session ${sessionId}`);
});

await step('http-details', async () => {
  const row = rootRow().first();
  await row.locator(tid('http-toggle')).click();
  const details = row.locator(tid('http-details'));
  await details.waitFor({ state: 'visible' });
  const removed = (await details.locator(`${tid('http-request-headers')} ${tid('http-removed')}`).innerText()).trim();
  check(/not recorded: .*\bcookie\b/.test(removed), `the request's cookie is not listed as not recorded: ${JSON.stringify(removed)}`);
  const headers = await details.locator(tid('http-request-headers')).innerText();
  check(!headers.includes('ward_app') && !headers.includes('ward_t_'), 'the recorded request headers show Ward\'s cookie or token');
  const body = (await details.locator(`${tid('http-response-body')} ${tid('http-body-text')}`).innerText()).replace(/\s+/g, '');
  check(body.includes('"auth":"bearer"'), `the response body is not the echo with auth "bearer": ${JSON.stringify(body.slice(0, 200))}`);
  console.log(`   ${removed}; response body ${body.length} characters`);
});

await step('logout-user', async () => {
  await app.close();
  await logout();
});

await step('login-auditor', async () => {
  await login(opt['auditor-user'], opt['auditor-password']);
  await page.locator(tid('auditor-tag')).waitFor({ state: 'visible' });
  await page.click(tid('nav-resources'));
  await page.waitForURL((u) => new URL(u).pathname === '/resources');
  await resourcesLoaded();
  check((await resourceRow().count()) === 0, `${opt.resource} is listed for ${opt['auditor-user']}, who has no grant for it`);
});

await step('auditor-sees-session', async () => {
  await page.goto(`${opt.url}/sessions/${encodeURIComponent(sessionId)}`);
  await seeRootRow();
});

await step('logout', async () => {
  await logout();
});

await ui.close();
console.log(`all steps passed; screenshots in ${opt.out}`);
