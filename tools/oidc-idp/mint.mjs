// Mints deliberately good or bad JWTs for Ward's token-validation tests.
//
//   node mint.mjs KEYS.json SPEC.json
//
// KEYS.json is the private JWKS idp.mjs wrote (`keys_out`). SPEC.json:
//   {"key": "RS256" | "ES256" | "EdDSA" | "foreign" | "none" | "hs256-with-public-key",
//    "header": {...extra header fields, e.g. "kid"},
//    "claims": {...the payload, exactly}}
// - RS256/ES256/EdDSA sign with the IdP's own key of that algorithm (its kid unless the header
//   names another);
// - "foreign" signs RS256 with a fresh key the IdP never published;
// - "none" makes an unsigned token (alg "none", empty signature);
// - "hs256-with-public-key" signs HS256 keyed with the IdP's RSA public key (PEM), the classic
//   algorithm-confusion attack.
// Prints the token on stdout.

import { readFileSync } from 'node:fs';
import { createHmac, createPublicKey } from 'node:crypto';
import { CompactSign, generateKeyPair, importJWK } from 'jose';

const [keysPath, specPath] = process.argv.slice(2);
if (!keysPath || !specPath) {
  console.error('usage: node mint.mjs KEYS.json SPEC.json');
  process.exit(2);
}
const keys = JSON.parse(readFileSync(keysPath, 'utf8')).keys;
const spec = JSON.parse(readFileSync(specPath, 'utf8'));
const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const payload = new TextEncoder().encode(JSON.stringify(spec.claims));

async function mint() {
  const extra = spec.header ?? {};
  switch (spec.key) {
    case 'none':
      return `${b64({ alg: 'none', typ: 'JWT', ...extra })}.${b64(spec.claims)}.`;
    case 'hs256-with-public-key': {
      const rsa = keys.find((k) => k.alg === 'RS256');
      const { d, p, q, dp, dq, qi, ...pub } = rsa;
      const pem = createPublicKey({ key: pub, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: rsa.kid, ...extra })}.${b64(spec.claims)}`;
      return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    }
    case 'foreign': {
      const { privateKey } = await generateKeyPair('RS256');
      return new CompactSign(payload)
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: 'foreign', ...extra })
        .sign(privateKey);
    }
    default: {
      const jwk = keys.find((k) => k.alg === spec.key);
      if (!jwk) throw new Error(`no ${spec.key} key in ${keysPath}`);
      const key = await importJWK(jwk, jwk.alg);
      return new CompactSign(payload)
        .setProtectedHeader({ alg: jwk.alg, typ: 'JWT', kid: jwk.kid, ...extra })
        .sign(key);
    }
  }
}

process.stdout.write(`${await mint()}\n`);
