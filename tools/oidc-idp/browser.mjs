// A scripted user agent that signs in at the loopback IdP (idp.mjs) the way a
// person would: it follows redirects, keeps cookies and fills in the IdP's
// HTML forms.  See README.md.
//
//   node browser.mjs code   --url AUTH_START_URL --username U --password P [--deny]
//   node browser.mjs device --url VERIFICATION_URI --user-code CODE --username U --password P [--deny]
//   --stop-at PREFIX: instead of requesting a URL that starts with PREFIX, print
//   {"stopped": URL, "method", "form"} and exit 0 (a login CSRF test hands that
//   request to another browser)
//   (--user-code may be left out when --url is verification_uri_complete)
//
// On success prints one JSON line {"status","url","body"} and exits 0;
// on an unexpected page prints the reason to stderr and exits 1.
// BROWSER_TRACE=1 logs every request to stderr.

import { parseArgs } from 'node:util';

const MAX_STEPS = 40;
const trace = process.env.BROWSER_TRACE ? (line) => process.stderr.write(`browser: ${line}\n`) : () => {};

function fail(message) {
  process.stderr.write(`browser: ${message}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------- cookies

// Cookies per host:port; Path is honoured, Domain is ignored (loopback only).
class CookieJar {
  #jars = new Map();

  store(url, setCookieHeaders) {
    const jar = this.#jars.get(url.host) ?? new Map();
    this.#jars.set(url.host, jar);
    for (const header of setCookieHeaders) {
      const [pair, ...attrs] = header.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq);
      const cookie = { name, value: pair.slice(eq + 1), path: defaultPath(url), expired: false };
      for (const attr of attrs) {
        const [key, value = ''] = attr.split('=');
        const k = key.toLowerCase();
        if (k === 'path' && value.startsWith('/')) cookie.path = value;
        if (k === 'max-age' && Number(value) <= 0) cookie.expired = true;
        if (k === 'expires' && Date.parse(value) <= Date.now()) cookie.expired = true;
      }
      const key = `${cookie.path}\n${name}`;
      if (cookie.expired) jar.delete(key);
      else jar.set(key, cookie);
    }
  }

  header(url) {
    const jar = this.#jars.get(url.host);
    if (!jar) return undefined;
    const matching = [...jar.values()].filter((c) => pathMatches(url.pathname, c.path))
      .sort((a, b) => b.path.length - a.path.length);
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }
}

function defaultPath(url) {
  const dir = url.pathname.slice(0, url.pathname.lastIndexOf('/'));
  return dir || '/';
}

function pathMatches(requestPath, cookiePath) {
  return requestPath === cookiePath
    || (requestPath.startsWith(cookiePath) && (cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/'));
}

// ---------------------------------------------------------------- html

const decode = (s) => s.replace(/&(#x?[0-9a-f]+|amp|lt|gt|quot|apos);/gi, (_, e) => {
  const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e.toLowerCase()];
  if (named) return named;
  return String.fromCodePoint(e[1].toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
});

function attributes(tag) {
  const attrs = {};
  for (const [, name, , dq, sq, bare] of tag.matchAll(/([\w:.-]+)(\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    attrs[name.toLowerCase()] = decode(dq ?? sq ?? bare ?? '');
  }
  return attrs;
}

// The page kind the IdP announces with <meta name="idp-page" content="...">.
function pageKind(html) {
  for (const [tag] of html.matchAll(/<meta\b[^>]*>/gi)) {
    const a = attributes(tag.slice(5));
    if (a.name === 'idp-page') return a.content;
  }
  return undefined;
}

function forms(html, baseUrl) {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)].map(([, attrs, inner]) => {
    const a = attributes(attrs);
    const fields = [...inner.matchAll(/<input\b([^>]*)>/gi)].map(([, t]) => attributes(t)).filter((f) => f.name);
    return {
      action: new URL(a.action ?? '', baseUrl),
      method: (a.method ?? 'get').toUpperCase(),
      fields,
    };
  });
}

// A page whose script submits its only form on load (response_mode=form_post,
// the device flow's verification_uri_complete): submit it as a browser would.
function autoSubmitted(html, all) {
  const scripts = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/gi)].map(([, js]) => js).join('\n');
  return all.length === 1 && /\.submit\(\)/.test(scripts) ? all[0] : undefined;
}

function formEndingWith(all, suffix) {
  return all.find((f) => f.action.pathname.endsWith(suffix));
}

function text(html) {
  return decode(html.replace(/<(script|style)[\s\S]*?<\/\1>/gi, '').replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim();
}

function errorText(html) {
  const alert = /<p class="error"[^>]*>([\s\S]*?)<\/p>/i.exec(html);
  return alert ? text(alert[1]) : text(html);
}

// ---------------------------------------------------------------- http

const jar = new CookieJar();

async function request(method, url, formValues) {
  const headers = { 'user-agent': 'ward-test-browser/1', accept: 'text/html,*/*' };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  let body;
  if (formValues) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(formValues).toString();
  }
  let res;
  try {
    res = await fetch(url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    fail(`${method} ${url} failed: ${err.cause?.message ?? err.message}`);
  }
  jar.store(url, res.headers.getSetCookie());
  trace(`${method} ${url} -> ${res.status}${res.headers.get('location') ? ` ${res.headers.get('location')}` : ''}`);
  return res;
}

// Fills a form the way a person would: hidden fields as they are, the named
// visible fields from `values`, then submits it.
function submission(form, values = {}) {
  const data = {};
  for (const f of form.fields) {
    if ((f.type ?? 'text').toLowerCase() === 'submit') continue;
    data[f.name] = f.name in values ? values[f.name] : (f.value ?? '');
  }
  for (const name of Object.keys(values)) {
    if (!(name in data)) fail(`form ${form.action} has no field "${name}"`);
  }
  return form.method === 'POST'
    ? { method: 'POST', url: form.action, values: data }
    : { method: 'GET', url: Object.assign(new URL(form.action), { search: new URLSearchParams(data).toString() }) };
}

// ---------------------------------------------------------------- main

const { positionals: [mode], values: opts } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    'user-code': { type: 'string' },
    deny: { type: 'boolean', default: false },
    'stop-at': { type: 'string' },
  },
});
if (!['code', 'device'].includes(mode) || !opts.url || !opts.username || opts.password === undefined
    || (mode === 'device' && !opts['user-code'] && !new URL(opts.url).searchParams.has('user_code'))) {
  fail('usage: browser.mjs code --url URL --username U --password P [--deny]\n'
    + '       browser.mjs device --url URL --user-code CODE --username U --password P [--deny]');
}

let next = { method: 'GET', url: new URL(opts.url) };
const seen = { login: 0, 'device-input': 0 };

for (let step = 0; step < MAX_STEPS; step += 1) {
  const { method, url } = next;
  if (opts['stop-at'] && url.href.startsWith(opts['stop-at'])) {
    process.stdout.write(`${JSON.stringify({ stopped: url.href, method, form: next.values ?? null })}\n`);
    process.exit(0);
  }
  const res = await request(method, url, next.values);
  const location = res.headers.get('location');
  if (res.status >= 300 && res.status < 400 && location) {
    await res.body?.cancel();
    next = { method: 'GET', url: new URL(location, url) };
    continue;
  }

  const html = await res.text();
  const kind = pageKind(html);
  const all = forms(html, url);
  if (kind) trace(`  IdP page: ${kind}`);
  const autoForm = !kind && autoSubmitted(html, all);
  if (autoForm) {
    trace('  auto-submitting form');
    next = submission(autoForm);
    continue;
  }
  const done = () => {
    process.stdout.write(`${JSON.stringify({ status: res.status, url: url.href, body: html.slice(0, 2000) })}\n`);
    process.exit(0);
  };

  switch (kind) {
    case 'login': {
      seen.login += 1;
      if (seen.login > 1) fail(`login rejected at ${url}: ${errorText(html)}`);
      const form = formEndingWith(all, '/login') ?? fail(`no login form at ${url}`);
      next = submission(form, { username: opts.username, password: opts.password });
      break;
    }
    case 'consent': {
      const form = formEndingWith(all, opts.deny ? '/abort' : '/confirm') ?? fail(`no consent form at ${url}`);
      next = submission(form);
      break;
    }
    case 'device-input': {
      if (mode !== 'device') fail(`unexpected device code page at ${url}`);
      seen['device-input'] += 1;
      if (seen['device-input'] > 1) fail(`user code rejected at ${url}: ${errorText(html)}`);
      const form = all.find((f) => f.fields.some((x) => x.name === 'user_code')) ?? fail(`no user code form at ${url}`);
      // verification_uri_complete pre-fills the code; --user-code overrides it.
      next = submission(form, opts['user-code'] ? { user_code: opts['user-code'] } : {});
      break;
    }
    case 'device-confirm': {
      const button = opts.deny ? 'abort' : 'confirm';
      const form = all.find((f) => f.fields.some((x) => x.name === button)) ?? fail(`no ${button} form at ${url}`);
      next = submission(form);
      break;
    }
    case 'device-success':
      if (mode !== 'device') fail(`unexpected device success page at ${url}`);
      done();
      break;
    case 'device-aborted':
      if (mode !== 'device' || !opts.deny) fail(`device sign-in aborted at ${url}`);
      done();
      break;
    case 'error':
      fail(`IdP error page at ${url} (HTTP ${res.status}): ${text(html)}`);
      break;
    default:
      if (kind) fail(`unknown IdP page "${kind}" at ${url}`);
      if (mode === 'device') fail(`unexpected page at ${url} (HTTP ${res.status}): ${text(html).slice(0, 300)}`);
      done();
  }
}
fail(`gave up after ${MAX_STEPS} requests`);
