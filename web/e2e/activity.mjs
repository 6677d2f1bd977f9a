#!/usr/bin/env node
// End-to-end check of the Activity page: a person's timeline across their sessions, with what
// an AI assistant proposed linked to what then ran.
//
// node e2e/activity.mjs --url https://127.0.0.1:PORT --user AUDITOR --password PW --subject alice
//   [--question TEXT] [--absent TEXT] [--proposal TEXT] [--statement TEXT] [--subject-password PW]
//   [--out e2e-activity-output]
//
// The auditor signs in, opens Activity from the navigation and picks SUBJECT. The list shows
// SUBJECT's question to the assistant (an `ai.prompt` whose text contains QUESTION, default
// `Our database is postgres://app:`) and nowhere the text ABSENT (default `Sup3rSecret`, the
// password pasted into that question: the record holds it masked); the assistant's answer
// with the proposal PROPOSAL (default `ALTER TABLE orders ADD COLUMN note text;`) as code; and
// the statement STATEMENT (default `ALTER TABLE orders ADD COLUMN note text`) that ran in psql,
// with a "proposed at" line linking to that answer. Clicking the link highlights the answer and
// scrolls to it. The statement's time opens its session at that event, whose "Activity of
// SUBJECT" link leads back to the timeline at that session's start. With --subject-password,
// SUBJECT then signs in and sees the same on their own Activity page, with nobody to pick.
// Prints `answer SESSION SEQ` and `statement SESSION SEQ`.
//
// Steps, screenshots and failures as in e2e/common.mjs.
import { check, launch, parseArgs, tid } from './common.mjs';

const REQUIRED = ['url', 'user', 'password', 'subject'];

const opt = parseArgs('activity.mjs', REQUIRED, {
  out: 'e2e-activity-output',
  question: 'Our database is postgres://app:',
  absent: 'Sup3rSecret',
  proposal: 'ALTER TABLE orders ADD COLUMN note text;',
  statement: 'ALTER TABLE orders ADD COLUMN note text',
});
const ui = await launch(opt.out);
const { page, step, login, logout } = ui;

const items = (kind) => page.locator(`${tid('activity-item')}[data-kind="${kind}"]`);
const squash = (s) => s.replace(/\s+/g, ' ').trim();

/** Waits for the list to be read, and fails on an error banner. */
async function activityLoaded() {
  await page.waitForFunction(() => {
    const l = document.querySelector('[data-testid="activity-list"]');
    return !!l && l.getAttribute('aria-busy') !== 'true';
  });
  const banner = page.locator(tid('error-banner'));
  if (await banner.count()) throw new Error(`the activity page failed: ${await banner.first().innerText()}`);
}

/** Waits until the item is highlighted and (the page scrolls smoothly) in the viewport. */
async function seeHighlighted(anchor) {
  await page.locator(`#${anchor}[data-highlighted="true"]`).waitFor({ state: 'visible' });
  // until the scrolling stops
  await page.evaluate(async () => {
    let y = -1;
    while (y !== window.scrollY) {
      y = window.scrollY;
      await new Promise((r) => setTimeout(r, 150));
    }
  });
  const box = await page.locator(`#${anchor}`).evaluate((el) => {
    const r = el.getBoundingClientRect();
    const bar = document.querySelector('.topbar')?.getBoundingClientRect().bottom ?? 0;
    return { top: r.top, bottom: r.bottom, bar, height: window.innerHeight };
  });
  check(box.top >= box.bar && box.bottom <= box.height, `the highlighted item is not in view: ${JSON.stringify(box)}`);
  const others = await page.locator(`${tid('activity-item')}[data-highlighted="true"]`).count();
  check(others === 1, `${others} items are highlighted`);
  const hash = decodeURIComponent(new URL(page.url()).hash.slice(1));
  check(hash === anchor, `the URL names ${JSON.stringify(hash)}, not the highlighted item`);
}

await step('login-auditor', async () => {
  await page.goto(opt.url + '/');
  await login(opt.user, opt.password);
  await page.locator(tid('auditor-tag')).waitFor({ state: 'visible' });
});

await step('activity', async () => {
  await page.click(tid('nav-activity'));
  await page.waitForURL((u) => new URL(u).pathname === '/activity');
  await activityLoaded();
  // An auditor picks whose activity.
  await page.fill(tid('activity-user'), opt.subject);
  await page.click(tid('activity-apply'));
  await page.waitForURL((u) => new URL(u).searchParams.get('user') === opt.subject);
  await activityLoaded();
  await page.locator(tid('activity-item')).first().waitFor({ state: 'visible' });
  const legend = await page.locator(tid('activity-legend')).innerText();
  check(legend.includes(`of ${opt.subject} since`), `the legend reads ${JSON.stringify(legend)}`);
  const kinds = await page.locator(tid('activity-item')).evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
  console.log(`   ${kinds.length} items: ${[...new Set(kinds)].join(', ')}`);
  // time order
  const times = await page.locator(`${tid('activity-item')} time`).evaluateAll((els) =>
    els.filter((e) => !e.closest('[data-testid="proposed-by"]')).map((e) => Date.parse(e.getAttribute('datetime'))),
  );
  check(times.every((t, i) => i === 0 || times[i - 1] <= t), 'the items are not in time order');
});

await step('question', async () => {
  const all = await page.locator(tid('activity-list')).innerText();
  check(!all.includes(opt.absent), `the timeline shows ${JSON.stringify(opt.absent)}`);
  const asked = items('ai.prompt').filter({ hasText: opt.question });
  check((await asked.count()) > 0, `no question containing ${JSON.stringify(opt.question)}`);
  const q = asked.first();
  const text = await q.locator(`${tid('activity-prompt')} ${tid('activity-text')}`).innerText();
  check(text.includes(opt.question) && !text.includes(opt.absent), `the question reads ${JSON.stringify(text)}`);
  const label = await q.locator(`${tid('activity-prompt')} .chat-label`).innerText();
  check(label.toLowerCase().includes(`${opt.subject} asked`.toLowerCase()), `the question is labelled ${JSON.stringify(label)}`);
  check((await q.getAttribute('data-resource')) !== null, 'the question has no resource');
  console.log(`   ${squash(label)}: ${squash(text).slice(0, 100)}`);
});

let answer = '';
await step('answer', async () => {
  const answers = items('ai.completion');
  const n = await answers.count();
  for (let i = 0; i < n && !answer; i++) {
    const proposals = await answers.nth(i).locator(tid('activity-proposal')).allInnerTexts();
    if (proposals.some((p) => p.trim() === opt.proposal)) {
      const a = answers.nth(i);
      answer = `act-${await a.getAttribute('data-session')}-${await a.getAttribute('data-seq')}`;
      check((await a.locator(tid('activity-answer')).count()) === 1, 'the answer is not shown as an answer');
      console.log(`answer ${await a.getAttribute('data-session')} ${await a.getAttribute('data-seq')}`);
    }
  }
  check(answer, `none of the ${n} answers proposes ${JSON.stringify(opt.proposal)}`);
  // Prompts and answers look unlike the statements that ran.
  const style = (sel) => page.locator(sel).first().evaluate((e) => getComputedStyle(e).backgroundColor);
  const q = await style(`${tid('activity-item')}[data-kind="ai.prompt"] ${tid('activity-prompt')}`);
  const a = await style(`#${answer} ${tid('activity-answer')}`);
  check(q !== a && q !== 'rgba(0, 0, 0, 0)' && a !== 'rgba(0, 0, 0, 0)', `questions (${q}) and answers (${a}) look alike`);
});

let statement = '';
await step('statement', async () => {
  const ran = items('db.query').filter({ has: page.locator(tid('activity-text'), { hasText: opt.statement }) });
  const n = await ran.count();
  let found = null;
  for (let i = 0; i < n && !found; i++) {
    const text = (await ran.nth(i).locator(tid('activity-text')).innerText()).trim();
    if (text === opt.statement) found = ran.nth(i);
  }
  check(found, `no statement ${JSON.stringify(opt.statement)} on the timeline`);
  const line = found.locator(tid('proposed-by'));
  check((await line.count()) === 1, 'the statement has no "proposed at" line');
  const said = squash(await line.innerText());
  check(/proposed at \d\d:\d\d:\d\d in /.test(said), `the line reads ${JSON.stringify(said)}`);
  const link = line.locator(tid('proposed-by-link'));
  check((await link.getAttribute('data-target')) === answer, `the link points at ${await link.getAttribute('data-target')}, not ${answer}`);
  statement = `act-${await found.getAttribute('data-session')}-${await found.getAttribute('data-seq')}`;
  console.log(`statement ${await found.getAttribute('data-session')} ${await found.getAttribute('data-seq')}`);
  console.log(`   ${said}`);
});

await step('highlight-proposal', async () => {
  // From the far end of the page, so that the link has to scroll.
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  check((await page.locator(`${tid('activity-item')}[data-highlighted="true"]`).count()) === 0, 'an item is highlighted before the click');
  await page.locator(`#${statement} ${tid('proposed-by-link')}`).click();
  await seeHighlighted(answer);
});

await step('session-at-event', async () => {
  const link = page.locator(`#${statement} ${tid('activity-session-link')}`);
  const href = await link.getAttribute('href');
  const [, session, seq] = /^\/sessions\/([^?]+)\?seq=(\d+)$/.exec(href ?? '') ?? [];
  check(session && seq, `the item links to ${JSON.stringify(href)}`);
  await link.click();
  await page.waitForURL((u) => new URL(u).pathname === `/sessions/${session}`);
  await page.locator(tid('session-detail')).waitFor({ state: 'visible' });
  // The session page opens at the statement.
  await page.locator(`${tid('timeline-item')}.ti-focus[data-seq="${seq}"]`).waitFor({ state: 'visible' });
});

await step('back-to-activity', async () => {
  const link = page.locator(tid('session-activity'));
  check((await link.innerText()).trim() === `Activity of ${opt.subject}`, `the session's link reads ${JSON.stringify(await link.innerText())}`);
  const session = await page.locator(tid('session-detail')).getAttribute('data-session-id');
  await link.click();
  await page.waitForURL((u) => new URL(u).pathname === '/activity' && new URL(u).searchParams.get('user') === opt.subject);
  await activityLoaded();
  // At the session's start, on a timeline since an hour before it.
  await seeHighlighted(`act-${session}-0`);
  await page.locator(`#${statement}`).waitFor({ state: 'attached' });
  await page.locator(`#${answer}`).waitFor({ state: 'attached' });
});

await step('logout', async () => {
  await logout();
});

// With --subject-password: SUBJECT sees their own timeline by default, without picking anyone.
if (opt['subject-password']) {
  await step('login-subject', async () => {
    await login(opt.subject, opt['subject-password']);
    await page.click(tid('nav-activity'));
    await page.waitForURL((u) => new URL(u).pathname === '/activity' && !new URL(u).searchParams.has('user'));
    await activityLoaded();
    check((await page.locator(tid('activity-user')).count()) === 0, `${opt.subject} is offered to pick whose activity`);
    const legend = await page.locator(tid('activity-legend')).innerText();
    check(legend.includes(`of ${opt.subject} since`), `the legend reads ${JSON.stringify(legend)}`);
    await page.locator(`#${statement} ${tid('proposed-by-link')}[data-target="${answer}"]`).waitFor({ state: 'visible' });
  });

  await step('logout-subject', async () => {
    await logout();
  });
}

await ui.close();
console.log(`all steps passed; screenshots in ${opt.out}`);
