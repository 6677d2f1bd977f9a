// A real OpenID Connect provider (node-oidc-provider 9.x) on loopback, for Ward's
// integration tests.  Usage: node idp.mjs CONFIG.json  (see README.md).
//
// Prints `ready http://127.0.0.1:PORT` once listening; exits cleanly on SIGTERM/SIGINT.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2] ?? usage(), 'utf8'));
const host = config.issuer_host ?? '127.0.0.1';
const audience = config.audience ?? 'ward';
// Resource indicators must be absolute URIs; a bare audience such as "ward"
// is mapped to a URN.  The access token's `aud` is still the plain audience.
const resourceId = URL.canParse(audience) ? audience : `urn:ward:audience:${audience}`;

function usage() {
  console.error('usage: node idp.mjs CONFIG.json');
  process.exit(2);
}

// ---------------------------------------------------------------- keys

function signingKey(alg, type, options) {
  const { privateKey } = crypto.generateKeyPairSync(type, options);
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `${alg.toLowerCase()}-${crypto.randomBytes(6).toString('hex')}`, alg, use: 'sig' };
}

// The first key of the set is the provider's default; RS256 comes first.
const jwks = {
  keys: [
    signingKey('RS256', 'rsa', { modulusLength: 2048 }),
    signingKey('ES256', 'ec', { namedCurve: 'P-256' }),
    signingKey('EdDSA', 'ed25519'),
  ],
};
if (config.keys_out) fs.writeFileSync(config.keys_out, JSON.stringify(jwks, null, 2), { mode: 0o600 });

// ---------------------------------------------------------------- accounts

// Read again at each use: a test changes a user's groups, or removes the user, by rewriting
// the config file (as an administrator would at a real provider).
const users = () => JSON.parse(fs.readFileSync(process.argv[2], 'utf8')).users ?? [];

function account(user) {
  return {
    accountId: user.sub,
    async claims() {
      return {
        sub: user.sub,
        preferred_username: user.username,
        ...(user.name && { name: user.name }),
        ...(user.email && { email: user.email, email_verified: true }),
        groups: user.groups ?? [],
      };
    },
  };
}

// ---------------------------------------------------------------- clients

const clients = (config.clients ?? []).map((client) => ({
  id_token_signed_response_alg: 'RS256',
  response_types: client.grant_types?.includes('authorization_code') === false ? [] : ['code'],
  ...client,
}));

// ---------------------------------------------------------------- html

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// Every page carries <meta name="idp-page" content="KIND"> so the scripted
// browser can tell login, consent, device and error pages apart.
function page(kind, title, body) {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="idp-page" content="${kind}"><title>${esc(title)}</title></head>
<body><h1>${esc(title)}</h1>
${body}
</body></html>
`;
}

function loginPage(uid, params, error) {
  return page('login', 'Sign in', `<p>Client <code>${esc(params.client_id)}</code> asks you to sign in.</p>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
  <label>Username <input type="text" name="username" autocomplete="username" autofocus></label>
  <label>Password <input type="password" name="password" autocomplete="current-password"></label>
  <button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Cancel</button></form>`);
}

function consentPage(uid, params, details) {
  const scopes = [...(details.missingOIDCScope ?? []), ...Object.values(details.missingResourceScopes ?? {}).flat()];
  return page('consent', 'Authorize', `<p>Client <code>${esc(params.client_id)}</code> asks for:</p>
<ul>${scopes.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>
<form method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit">Allow</button></form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Deny</button></form>`);
}

// The provider hands us its own <form> (with the xsrf token and, for the
// confirm page, the hidden user_code/confirm fields); put the button inside it
// so the page is an ordinary self-contained HTML form.
const withButton = (form, label) => form.replace('</form>', `<button type="submit">${label}</button>\n</form>`);

// ---------------------------------------------------------------- provider

function createProvider(issuer) {
  return new Provider(issuer, {
    clients,
    jwks,
    async findAccount(_ctx, sub) {
      const user = users().find((u) => u.sub === sub);
      return user && account(user);
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    // Put the scope claims into the ID token itself (not only /userinfo),
    // for the code flow and the device flow alike.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: () => true },
    // Refresh tokens for every client allowed the refresh_token grant, whether
    // or not offline_access was asked for.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    cookies: {
      keys: [crypto.randomBytes(32).toString('hex')],
      long: { httpOnly: true, sameSite: 'lax', secure: false },
      short: { httpOnly: true, sameSite: 'lax', secure: false },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      deviceFlow: {
        enabled: true,
        async userCodeInputSource(ctx, form, _out, err) {
          if (err?.name === 'AbortedError') {
            ctx.body = page('device-aborted', 'Sign-in aborted', '<p>The sign-in request was aborted.</p>');
            return;
          }
          // err: NoCodeError, NotFoundError, ExpiredError, AlreadyUsedError or a generic error.
          const msg = err ? `<p class="error" role="alert">Code rejected: ${esc(err.message)}.</p>` : '';
          ctx.body = page('device-input', 'Enter code', `${msg}<p>Enter the code displayed on your device.</p>
${withButton(form, 'Continue')}`);
        },
        async userCodeConfirmSource(ctx, form, client, _deviceInfo, userCode) {
          ctx.body = page('device-confirm', 'Confirm device', `<p>Client <code>${esc(client.clientId)}</code>
shows the code <code>${esc(userCode)}</code>.</p>
${withButton(form, 'Continue')}
${withButton(form.replace('op.deviceConfirmForm', 'op.deviceAbortForm').replace('name="confirm"', 'name="abort"'), 'Abort')}`);
        },
        async successSource(ctx) {
          ctx.body = page('device-success', 'Sign-in success', `<p>Signed in to ${esc(ctx.oidc.client.clientId)}; you can close this page.</p>`);
        },
      },
      resourceIndicators: {
        enabled: true,
        // Only the client_credentials grant defaults to the audience; the code
        // and device flows keep opaque access tokens usable at /userinfo
        // unless the client sends `resource` explicitly.
        async defaultResource(ctx) {
          return ctx.oidc.params?.grant_type === 'client_credentials' ? resourceId : undefined;
        },
        async getResourceServerInfo(_ctx, indicator) {
          if (indicator !== resourceId) throw new errors.InvalidTarget();
          return {
            audience,
            scope: config.audience_scope ?? 'api',
            accessTokenFormat: 'jwt',
            accessTokenTTL: 3600,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('error', 'Error', Object.entries(out)
        .map(([k, v]) => `<p><strong>${esc(k)}</strong>: <span class="${esc(k)}">${esc(v)}</span></p>`).join('\n'));
    },
  });
}

// ---------------------------------------------------------------- interactions

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

async function grantEverything(provider, details) {
  const { prompt: { details: missing }, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

// Koa middleware serving GET /interaction/:uid and POST /interaction/:uid/{login,confirm,abort}.
function interactionRoutes(provider) {
  return async (ctx, next) => {
    const m = /^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/.exec(ctx.path);
    if (!m) return next();
    const [, uid, action] = m;
    const method = action ? 'POST' : 'GET';
    if (ctx.method !== method) {
      ctx.status = 405;
      return undefined;
    }
    ctx.set('cache-control', 'no-store');
    ctx.type = 'html';
    try {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.uid !== uid) throw new Error('interaction mismatch');
      const { prompt, params } = details;
      let result;

      if (!action) {
        ctx.body = prompt.name === 'login' ? loginPage(uid, params) : consentPage(uid, params, prompt.details);
        return undefined;
      }
      if (action === 'login') {
        if (prompt.name !== 'login') throw new Error(`expected login prompt, got ${prompt.name}`);
        const { username, password } = await readForm(ctx.req);
        const user = users().find((u) => u.username === username && u.password === password);
        if (!user) {
          ctx.status = 200;
          ctx.body = loginPage(uid, params, 'Invalid username or password.');
          return undefined;
        }
        result = { login: { accountId: user.sub } };
      } else if (action === 'confirm') {
        if (prompt.name !== 'consent') throw new Error(`expected consent prompt, got ${prompt.name}`);
        const grantId = await grantEverything(provider, details);
        result = { consent: details.grantId ? {} : { grantId } };
      } else {
        result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
      }
      const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
      ctx.status = 303;
      ctx.redirect(returnTo);
    } catch (err) {
      ctx.status = 400;
      ctx.body = page('error', 'Error', `<p><strong>error</strong>: <span class="error">${esc(err.name ?? 'Error')}</span></p>
<p><strong>error_description</strong>: <span class="error_description">${esc(err.error_description ?? err.message)}</span></p>`);
    }
    return undefined;
  };
}

// ---------------------------------------------------------------- server

let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = http.createServer((req, res) => handler(req, res));

server.listen(config.port ?? 0, host, () => {
  const issuer = `http://${host}:${server.address().port}`;
  const provider = createProvider(issuer);
  provider.use(interactionRoutes(provider));
  handler = provider.callback();
  process.stdout.write(`ready ${issuer}\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
