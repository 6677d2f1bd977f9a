// End-to-end self-test of idp.mjs + browser.mjs: node selftest.mjs
// Exits non-zero on the first failure.

import * as assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-idp-selftest-'));
const SCOPE = 'openid profile email groups';

// ---------------------------------------------------------------- helpers

const b64url = (buf) => Buffer.from(buf).toString('base64url');

function decodeJwt(jwt) {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
}

// Verifies a compact JWS against a JWKS with node:crypto only.
function verifyJwt(jwt, jwks) {
  const { header, payload } = decodeJwt(jwt);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `no key ${header.kid} in JWKS`);
  const [h, p, s] = jwt.split('.');
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  const ok = {
    RS256: () => crypto.verify('sha256', data, key, sig),
    ES256: () => crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig),
    EdDSA: () => crypto.verify(null, data, key, sig),
  }[header.alg]?.();
  assert.ok(ok, `bad ${header.alg} signature`);
  return { header, payload };
}

function runBrowser(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(here, 'browser.mjs'), ...args], (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr, result: stdout ? JSON.parse(stdout) : undefined });
    });
  });
}

async function post(url, form, { auth = ['ward', 's3cret'] } = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(auth.map(encodeURIComponent).join(':')).toString('base64')}`,
    },
    body: new URLSearchParams(form),
  });
  return { status: res.status, json: await res.json() };
}

function pkce() {
  const verifier = b64url(crypto.randomBytes(32));
  return { verifier, challenge: b64url(crypto.createHash('sha256').update(verifier).digest()) };
}

const checks = [];
async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    checks.push(name);
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    console.log(`FAIL ${name}\n${err.stack ?? err}`);
    throw err;
  }
}

// ---------------------------------------------------------------- setup

// The client, shaped like Ward: /start redirects to the IdP, the redirect URI
// records what arrives and redirects on to /done, which answers 200.
const callbacks = [];
const rp = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://rp');
  if (url.pathname === '/start') {
    res.writeHead(302, { location: url.searchParams.get('to') }).end();
  } else if (url.pathname === '/auth/callback') {
    callbacks.push(url);
    res.writeHead(303, { location: `/done${url.search}` }).end();
  } else {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('callback received\n');
  }
});
rp.listen(0, '127.0.0.1');
await once(rp, 'listening');
const rpOrigin = `http://127.0.0.1:${rp.address().port}`;
const redirectUri = `${rpOrigin}/auth/callback`;

const keysOut = path.join(tmp, 'private-jwks.json');
const configPath = path.join(tmp, 'config.json');
const grantTypes = ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', 'client_credentials'];
fs.writeFileSync(configPath, JSON.stringify({
  port: 0,
  issuer_host: '127.0.0.1',
  keys_out: keysOut,
  clients: [
    { client_id: 'ward', client_secret: 's3cret', redirect_uris: [redirectUri], grant_types: grantTypes, token_endpoint_auth_method: 'client_secret_basic' },
    { client_id: 'ward-ed', client_secret: 's3cret-ed', redirect_uris: [redirectUri], grant_types: grantTypes, token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: 'EdDSA' },
  ],
  users: [{ username: 'alice', password: 'pw-alice', sub: 'u-alice', email: 'alice@example.test', groups: ['analysts', 'dev'] }],
  audience: 'ward',
}));

const idp = spawn(process.execPath, [path.join(here, 'idp.mjs'), configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
let idpStderr = '';
idp.stderr.on('data', (d) => { idpStderr += d; });
const issuer = await new Promise((resolve, reject) => {
  let out = '';
  idp.stdout.on('data', (d) => {
    out += d;
    const m = /^ready (http:\/\/\S+)\n/.exec(out);
    if (m) resolve(m[1]);
  });
  idp.on('exit', (code) => reject(new Error(`idp exited with ${code}: ${idpStderr}`)));
  setTimeout(() => reject(new Error('idp not ready in 15 s')), 15_000).unref();
});
console.log(`idp ${issuer}, redirect URI ${redirectUri}`);

let failed = false;
try {
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const jwks = await (await fetch(discovery.jwks_uri)).json();

  const authUrl = (p, extra = {}) => {
    const url = new URL(discovery.authorization_endpoint);
    url.search = new URLSearchParams({
      client_id: 'ward', response_type: 'code', scope: SCOPE, redirect_uri: redirectUri,
      state: b64url(crypto.randomBytes(8)), nonce: b64url(crypto.randomBytes(8)),
      code_challenge: p.challenge, code_challenge_method: 'S256', ...extra,
    }).toString();
    return url;
  };

  const checkIdToken = (idToken, { aud = 'ward', alg = 'RS256', nonce } = {}) => {
    const { header, payload } = verifyJwt(idToken, jwks);
    assert.equal(header.alg, alg);
    assert.equal(payload.iss, issuer);
    assert.equal(payload.aud, aud);
    assert.equal(payload.sub, 'u-alice');
    assert.equal(payload.preferred_username, 'alice');
    assert.equal(payload.email, 'alice@example.test');
    assert.deepEqual(payload.groups, ['analysts', 'dev']);
    if (nonce) assert.equal(payload.nonce, nonce);
    return payload;
  };

  await check('discovery and JWKS', async () => {
    assert.equal(discovery.issuer, issuer);
    assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
    assert.ok(discovery.device_authorization_endpoint);
    const priv = JSON.parse(fs.readFileSync(keysOut, 'utf8'));
    assert.deepEqual(priv.keys.map((k) => k.alg), ['RS256', 'ES256', 'EdDSA']);
    assert.ok(priv.keys.every((k) => k.d && k.kid));
    assert.deepEqual(jwks.keys.map((k) => k.kid), priv.keys.map((k) => k.kid));
    assert.ok(jwks.keys.every((k) => !k.d), 'public JWKS leaks private parts');
  });

  await check('authorization code + PKCE', async () => {
    const p = pkce();
    const url = authUrl(p);
    const start = `${rpOrigin}/start?to=${encodeURIComponent(url)}`;
    const { code, stdout, stderr, result } = await runBrowser(['code', '--url', start, '--username', 'alice', '--password', 'pw-alice']);
    assert.equal(code, 0, stderr || stdout);
    assert.equal(result.status, 200);
    assert.match(result.body, /callback received/);
    const cb = new URL(result.url);
    assert.equal(`${cb.origin}${cb.pathname}`, `${rpOrigin}/done`);
    assert.equal(cb.searchParams.get('state'), url.searchParams.get('state'));
    assert.equal(cb.searchParams.get('iss'), issuer);
    assert.equal(callbacks.at(-1).searchParams.get('code'), cb.searchParams.get('code'));

    const token = await post(discovery.token_endpoint, {
      grant_type: 'authorization_code', code: cb.searchParams.get('code'), redirect_uri: redirectUri, code_verifier: p.verifier,
    });
    assert.equal(token.status, 200, JSON.stringify(token.json));
    checkIdToken(token.json.id_token, { nonce: url.searchParams.get('nonce') });
    assert.ok(token.json.refresh_token, 'no refresh token');

    const userinfo = await (await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${token.json.access_token}` } })).json();
    assert.deepEqual(userinfo.groups, ['analysts', 'dev']);

    const refreshed = await post(discovery.token_endpoint, { grant_type: 'refresh_token', refresh_token: token.json.refresh_token });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
    checkIdToken(refreshed.json.id_token);
  });

  await check('code exchange needs the right code_verifier', async () => {
    const p = pkce();
    const { code, result, stderr } = await runBrowser(['code', '--url', authUrl(p).href, '--username', 'alice', '--password', 'pw-alice']);
    assert.equal(code, 0, stderr);
    const token = await post(discovery.token_endpoint, {
      grant_type: 'authorization_code', code: new URL(result.url).searchParams.get('code'), redirect_uri: redirectUri, code_verifier: pkce().verifier,
    });
    assert.equal(token.status, 400);
    assert.equal(token.json.error, 'invalid_grant');
  });

  await check('authorization request without PKCE is refused', async () => {
    const url = authUrl(pkce());
    url.searchParams.delete('code_challenge');
    url.searchParams.delete('code_challenge_method');
    const { code, result, stderr } = await runBrowser(['code', '--url', url.href, '--username', 'alice', '--password', 'pw-alice']);
    assert.equal(code, 0, stderr);
    assert.equal(new URL(result.url).searchParams.get('error'), 'invalid_request');
  });

  await check('wrong password is rejected', async () => {
    const { code, stderr } = await runBrowser(['code', '--url', authUrl(pkce()).href, '--username', 'alice', '--password', 'nope']);
    assert.equal(code, 1);
    assert.match(stderr, /login rejected.*Invalid username or password/);
  });

  await check('--deny yields error=access_denied at the redirect URI', async () => {
    const { code, result, stderr } = await runBrowser(['code', '--deny', '--url', authUrl(pkce()).href, '--username', 'alice', '--password', 'pw-alice']);
    assert.equal(code, 0, stderr);
    assert.equal(callbacks.at(-1).searchParams.get('error'), 'access_denied');
    assert.equal(new URL(result.url).searchParams.get('error'), 'access_denied');
  });

  await check('IdP error page makes the browser fail', async () => {
    const url = authUrl(pkce(), { redirect_uri: 'http://127.0.0.1:1/not-registered' });
    const { code, stderr } = await runBrowser(['code', '--url', url.href, '--username', 'alice', '--password', 'pw-alice']);
    assert.equal(code, 1);
    assert.match(stderr, /IdP error page.*redirect_uri/);
  });

  const deviceFlow = async (client, secret, alg) => {
    const auth = [client, secret];
    const start = await post(discovery.device_authorization_endpoint, { client_id: client, scope: SCOPE }, { auth });
    assert.equal(start.status, 200, JSON.stringify(start.json));
    const { device_code: deviceCode, user_code: userCode, verification_uri: verificationUri } = start.json;
    const poll = () => post(discovery.token_endpoint, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode }, { auth });

    const pending = await poll();
    assert.equal(pending.json.error, 'authorization_pending');

    const { code, result, stderr } = await runBrowser(['device', '--url', verificationUri, '--user-code', userCode, '--username', 'alice', '--password', 'pw-alice']);
    assert.equal(code, 0, stderr);
    assert.equal(result.status, 200);
    assert.match(result.body, /idp-page" content="device-success"/);

    const token = await poll();
    assert.equal(token.status, 200, JSON.stringify(token.json));
    checkIdToken(token.json.id_token, { aud: client, alg });
    assert.ok(token.json.refresh_token, 'no refresh token');
  };

  await check('device authorization flow', () => deviceFlow('ward', 's3cret', 'RS256'));
  await check('device flow, client with id_token_signed_response_alg EdDSA', () => deviceFlow('ward-ed', 's3cret-ed', 'EdDSA'));

  await check('device flow: wrong user code is rejected', async () => {
    const start = await post(discovery.device_authorization_endpoint, { client_id: 'ward', scope: SCOPE });
    const { code, stderr } = await runBrowser(['device', '--url', start.json.verification_uri, '--user-code', 'BCDF-GHJK', '--username', 'alice', '--password', 'pw-alice']);
    assert.equal(code, 1);
    assert.match(stderr, /user code rejected.*the code was not found/);
  });

  await check('device flow: verification_uri_complete and --deny', async () => {
    const start = await post(discovery.device_authorization_endpoint, { client_id: 'ward', scope: SCOPE });
    const { verification_uri_complete: complete, device_code: deviceCode } = start.json;
    const { code, result, stderr } = await runBrowser(['device', '--deny', '--url', complete, '--username', 'alice', '--password', 'pw-alice']);
    assert.equal(code, 0, stderr);
    assert.match(result.body, /idp-page" content="device-aborted"/);
    const token = await post(discovery.token_endpoint, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode });
    assert.equal(token.json.error, 'access_denied');
  });

  await check('client_credentials: JWT access token for the audience', async () => {
    const token = await post(discovery.token_endpoint, { grant_type: 'client_credentials' });
    assert.equal(token.status, 200, JSON.stringify(token.json));
    const { header, payload } = verifyJwt(token.json.access_token, jwks);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'RS256');
    assert.equal(payload.iss, issuer);
    assert.equal(payload.aud, 'ward');
    assert.equal(payload.sub, 'ward');
    assert.equal(payload.client_id, 'ward');
  });

  await check('client authentication with a wrong secret fails', async () => {
    const token = await post(discovery.token_endpoint, { grant_type: 'client_credentials' }, { auth: ['ward', 'wrong'] });
    assert.equal(token.status, 401);
    assert.equal(token.json.error, 'invalid_client');
  });
} catch {
  failed = true;
  if (idpStderr) console.log(`--- idp stderr ---\n${idpStderr}`);
} finally {
  idp.kill('SIGTERM');
  const [exitCode] = await once(idp, 'exit');
  rp.close();
  fs.rmSync(tmp, { recursive: true, force: true });
  if (exitCode !== 0) {
    console.log(`FAIL idp exited with ${exitCode} on SIGTERM`);
    failed = true;
  }
}

console.log(failed ? 'selftest FAILED' : `selftest passed (${checks.length} checks)`);
process.exit(failed ? 1 : 0);
