// An independent DPoP (RFC 9449) client for Ward's tests: npm `dpop` (by the author of
// oidc-provider) makes the key pair and the proofs; Ward only checks them.
//
//   node client.mjs keygen KEYFILE            # writes a key pair, prints its JWK thumbprint
//   node client.mjs call KEYFILE URL TOKEN    # the exchange below, one JSON line of statuses
//   node client.mjs mcp KEYFILE URL TOKEN     # an MCP initialize with a proof, then without
//
// `call` asks URL: with the token and a proof of its key (accepted); the same proof again
// (a replay); a proof for another method; the token alone as a bearer token, as a thief who
// copied it would; and with a proof of another key. Trust Ward's certificate with
// NODE_EXTRA_CA_CERTS.
import fs from 'node:fs';
import * as DPoP from 'dpop';

const [mode, ...args] = process.argv.slice(2);

async function keygen(file) {
  const pair = await DPoP.generateKeyPair('ES256', { extractable: true });
  const jwks = {
    publicKey: await crypto.subtle.exportKey('jwk', pair.publicKey),
    privateKey: await crypto.subtle.exportKey('jwk', pair.privateKey),
  };
  fs.writeFileSync(file, JSON.stringify(jwks), { mode: 0o600 });
  console.log(await DPoP.calculateThumbprint(pair.publicKey));
}

async function load(file) {
  const jwks = JSON.parse(fs.readFileSync(file, 'utf8'));
  const alg = { name: 'ECDSA', namedCurve: 'P-256' };
  return {
    publicKey: await crypto.subtle.importKey('jwk', jwks.publicKey, alg, true, ['verify']),
    privateKey: await crypto.subtle.importKey('jwk', jwks.privateKey, alg, false, ['sign']),
  };
}

async function call(file, url, token) {
  const pair = await load(file);
  const ask = async (headers, method = 'GET') => {
    const response = await fetch(url, { method, headers });
    const body = await response.text();
    return { status: response.status, body: body.slice(0, 4000) };
  };
  const proof = await DPoP.generateProof(pair, url, 'GET', undefined, token);
  const bound = { authorization: `DPoP ${token}`, dpop: proof };
  const out = {};
  out.valid = await ask(bound);
  out.second = await ask({ authorization: `DPoP ${token}`, dpop: await DPoP.generateProof(pair, url, 'GET', undefined, token) });
  out.replayed = await ask(bound);
  out.other_method = await ask({ authorization: `DPoP ${token}`, dpop: await DPoP.generateProof(pair, url, 'POST', undefined, token) });
  out.bearer = await ask({ authorization: `Bearer ${token}` });
  const stranger = await DPoP.generateKeyPair('ES256');
  out.other_key = await ask({ authorization: `DPoP ${token}`, dpop: await DPoP.generateProof(stranger, url, 'GET', undefined, token) });
  console.log(JSON.stringify(out));
}

async function mcp(file, url, token) {
  const pair = await load(file);
  const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {
    protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'dpop-client', version: '1' } } });
  const post = async (authorization, proof) => {
    const headers = { authorization, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (proof) headers.dpop = proof;
    const response = await fetch(url, { method: 'POST', headers, body: init });
    return { status: response.status, body: (await response.text()).slice(0, 4000) };
  };
  const out = {};
  out.valid = await post(`DPoP ${token}`, await DPoP.generateProof(pair, url, 'POST', undefined, token));
  out.bearer = await post(`Bearer ${token}`);
  console.log(JSON.stringify(out));
}

if (mode === 'keygen') await keygen(args[0]);
else if (mode === 'mcp') await mcp(args[0], args[1], args[2]);
else if (mode === 'call') await call(args[0], args[1], args[2]);
else {
  console.error('usage: client.mjs keygen KEYFILE | call KEYFILE URL TOKEN | mcp KEYFILE URL TOKEN');
  process.exit(2);
}
