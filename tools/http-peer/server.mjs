// A small upstream "internal HTTP service" for Ward's gateway tests.  No
// dependencies beyond Node 20 built-ins.  See README.md.
//
//   node server.mjs --port 0 [--host 127.0.0.1] [--tls-cert CERT.pem --tls-key KEY.pem] [--token SECRET]
//
// Prints exactly one line `ready HOST:PORT` on stdout once listening (as the other test peers do);
// SIGTERM/SIGINT exit with status 0.  Errors go to stderr.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as zlib from 'node:zlib';

// ---------------------------------------------------------------- options

function usage(message) {
  if (message) process.stderr.write(`http-peer: ${message}\n`);
  process.stderr.write('usage: node server.mjs --port N [--host H] [--tls-cert CERT --tls-key KEY] [--token SECRET]\n');
  process.exit(2);
}

const opts = { port: '0', host: '127.0.0.1' };
const known = { '--port': 'port', '--host': 'host', '--tls-cert': 'cert', '--tls-key': 'key', '--token': 'token' };
for (let i = 2; i < process.argv.length; i += 2) {
  const name = known[process.argv[i]];
  if (!name || process.argv[i + 1] === undefined) usage(`bad argument ${process.argv[i]}`);
  opts[name] = process.argv[i + 1];
}
if (!/^\d+$/.test(opts.port)) usage('--port must be a number');
if (!opts.cert !== !opts.key) usage('--tls-cert and --tls-key go together');

// ---------------------------------------------------------------- auth

// Returns the credential form used: {auth: 'bearer'|'basic'|'header'|null, basicUser}.
// With --token only a form carrying the token counts (null if none does);
// without --token the first form present is reported, unchecked.
function credential(req) {
  const ok = (value) => opts.token === undefined || value === opts.token;
  const authz = req.headers.authorization ?? '';
  const [scheme, param = ''] = authz.trim().split(/\s+/, 2);
  if (/^bearer$/i.test(scheme) && ok(param)) return { auth: 'bearer', basicUser: null };
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(param, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0 && ok(decoded.slice(colon + 1))) return { auth: 'basic', basicUser: decoded.slice(0, colon) };
  }
  const apiKey = req.headers['x-api-key'];
  if (apiKey !== undefined && ok(apiKey)) return { auth: 'header', basicUser: null };
  return { auth: null, basicUser: null };
}

const isPublic = (req, path) => req.method === 'GET' && path.startsWith('/public/');
const authorized = (req, path, cred) => opts.token === undefined || isPublic(req, path) || cred.auth !== null;

// ---------------------------------------------------------------- HTTP routes

function json(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function text(res, status, body) {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// Writes `count` chunks produced by make(i), one every `delay` ms, then ends.
function drip(res, count, delay, make) {
  let i = 0;
  const timer = setInterval(() => {
    if (i < count) res.write(make(++i));
    if (i >= count) { clearInterval(timer); res.end(); }
  }, delay);
  res.on('close', () => clearInterval(timer));
}

const intParam = (query, name, fallback) => {
  const n = Number.parseInt(query.get(name) ?? '', 10);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
};

function handle(req, res) {
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const rawQuery = q < 0 ? null : req.url.slice(q + 1);
  const query = new URLSearchParams(rawQuery ?? '');
  const cred = credential(req);
  if (!authorized(req, path, cred)) return json(res, 401, { error: 'unauthorized' });

  if (path.startsWith('/echo')) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => json(res, 200, {
      method: req.method, path, query: rawQuery, headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'), auth: cred.auth, basic_user: cred.basicUser,
    }));
    return;
  }
  if (req.method !== 'GET') return json(res, 404, { error: 'not found' });

  if (path === '/stream') {
    res.writeHead(200, { 'content-type': 'text/plain' }); // no content-length: chunked
    return drip(res, intParam(query, 'n', 5), intParam(query, 'delay', 50), (i) => `line ${i}\n`);
  }
  if (path === '/sse') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    return drip(res, intParam(query, 'n', 5), intParam(query, 'delay', 50), (i) => `data: {"i":${i}}\n\n`);
  }
  if (path === '/big') return big(res, intParam(query, 'bytes', 0));
  if (path === '/secret') return text(res, 200, 'card 4111 1111 1111 1111 and key AKIAIOSFODNN7EXAMPLE\n');
  if (path === '/gzip') {
    // Always gzip, whatever Accept-Encoding says.
    const body = zlib.gzipSync('compressed card 4111111111111111\n');
    res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': body.length });
    return res.end(body);
  }
  const code = Number(/^\/status\/(\d{3})$/.exec(path)?.[1]);
  if (code >= 200 && code <= 599) {
    if (code === 204 || code === 304) { res.writeHead(code); return res.end(); } // no body allowed
    return json(res, code, { status: code });
  }
  if (path === '/public/hello') return text(res, 200, 'hello');
  json(res, 404, { error: 'not found' });
}

// Exactly `bytes` bytes of "abc...z\n" repeated, streamed with backpressure.
function big(res, bytes) {
  const pattern = 'abcdefghijklmnopqrstuvwxyz\n';
  const block = Buffer.from(pattern.repeat(Math.ceil(65536 / pattern.length))).subarray(0, 65529); // 27 * 2427
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': bytes });
  let left = bytes;
  const pump = () => {
    while (left > 0) {
      const chunk = block.subarray(0, Math.min(left, block.length));
      left -= chunk.length;
      if (!res.write(chunk)) return res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

// ---------------------------------------------------------------- WebSocket (RFC 6455)

// Not an acceptable WebSocket upgrade: answer it as a plain HTTP request that
// ignores Upgrade (RFC 9110 §7.8).  Only body bytes that came with the headers are seen.
function plain(req, socket, head, handler) {
  const res = new http.ServerResponse(req);
  res.assignSocket(socket);
  res.shouldKeepAlive = false;
  res.on('finish', () => { res.detachSocket(socket); socket.end(); });
  if (head.length) req.unshift(head);
  handler(req, res);
}

// One unmasked, unfragmented server frame.
function frame(opcode, payload) {
  const len = payload.length;
  let head;
  if (len < 126) head = Buffer.from([0, len]);
  else if (len < 65536) { head = Buffer.alloc(4); head[1] = 126; head.writeUInt16BE(len, 2); }
  else { head = Buffer.alloc(10); head[1] = 127; head.writeBigUInt64BE(BigInt(len), 2); }
  head[0] = 0x80 | opcode; // FIN
  return Buffer.concat([head, payload]);
}

const closePayload = (code, reason = '') => Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);
const MAX_MESSAGE = 64 * 1024 * 1024;

function upgrade(req, socket, head) {
  socket.on('error', () => {});
  const path = req.url.split('?')[0];
  const offers = (req.headers.upgrade ?? '').toLowerCase().split(',').map((s) => s.trim());
  const isWs = req.method === 'GET' && path === '/ws' && offers.includes('websocket');
  if (!isWs || !authorized(req, path, credential(req))) return plain(req, socket, head, handle); // 404 / 401 / route
  const key = req.headers['sec-websocket-key'];
  if (!key || req.headers['sec-websocket-version'] !== '13') {
    return plain(req, socket, head, (_, res) => json(res, 400, { error: 'bad websocket handshake' }));
  }

  // RFC 6455 §1.3 GUID.  No extension or subprotocol is negotiated.
  const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);

  let buf = head;
  let fragments = null; // {opcode, parts, size} while a fragmented message is open
  let closeSent = false; // after our close frame no more data frames go out
  let done = false; // after a close or protocol error, input is ignored
  const send = (opcode, payload) => { if (!closeSent && socket.writable) socket.write(frame(opcode, payload)); };
  const fail = (code) => { send(8, closePayload(code)); closeSent = done = true; socket.end(); };
  const utf8 = new TextDecoder('utf-8', { fatal: true });

  const message = (opcode, payload) => {
    if (opcode === 2) return send(2, Buffer.concat([Buffer.from('echo: '), payload]));
    let textMsg;
    try { textMsg = utf8.decode(payload); } catch { return fail(1007); }
    if (textMsg === 'secret') return send(1, Buffer.from('card 4111 1111 1111 1111'));
    if (textMsg === 'bye') {
      send(8, closePayload(1000, 'bye'));
      closeSent = true;
      setTimeout(() => socket.end(), 1000).unref(); // unless the client's close comes first
      return;
    }
    send(1, Buffer.from(`echo: ${textMsg}`));
  };

  // Parses as many complete frames as `buf` holds.
  const parse = () => {
    while (buf.length >= 2) {
      const fin = buf[0] & 0x80, rsv = buf[0] & 0x70, opcode = buf[0] & 0x0f;
      const masked = buf[1] & 0x80;
      let len = buf[1] & 0x7f, off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) {
        if (buf.length < 10) return;
        const big = buf.readBigUInt64BE(2);
        if (big > BigInt(MAX_MESSAGE)) return fail(1009);
        len = Number(big); off = 10;
      }
      if (rsv || !masked) return fail(1002); // no extensions; clients must mask
      if (buf.length < off + 4 + len) return;
      const mask = buf.subarray(off, off + 4);
      const payload = Buffer.from(buf.subarray(off + 4, off + 4 + len));
      for (let i = 0; i < len; i++) payload[i] ^= mask[i & 3];
      buf = buf.subarray(off + 4 + len);

      if (opcode >= 8) { // control frames: may interleave with fragments
        if (!fin || len > 125) return fail(1002);
        if (opcode === 8) { // close: echo the status code (if any), then end
          if (!closeSent) socket.write(frame(8, payload.subarray(0, 2)));
          closeSent = done = true;
          return socket.end();
        }
        if (opcode === 9) send(10, payload);
        continue; // pong (0xA) is ignored
      }
      if (opcode === 0) {
        if (!fragments) return fail(1002);
      } else if (opcode === 1 || opcode === 2) {
        if (fragments) return fail(1002);
        fragments = { opcode, parts: [], size: 0 };
      } else return fail(1002);
      fragments.parts.push(payload);
      fragments.size += len;
      if (fragments.size > MAX_MESSAGE) return fail(1009);
      if (fin) {
        const { opcode: op, parts } = fragments;
        fragments = null;
        if (!closeSent) message(op, Buffer.concat(parts));
      }
    }
  };

  socket.on('data', (chunk) => { if (done) return; buf = buf.length ? Buffer.concat([buf, chunk]) : chunk; parse(); });
  socket.on('end', () => socket.end());
  parse();
}

// ---------------------------------------------------------------- main

function readPem(file) {
  try { return fs.readFileSync(file); } catch (err) { return usage(err.message); }
}

const server = opts.cert
  ? https.createServer({ cert: readPem(opts.cert), key: readPem(opts.key) }, handle)
  : http.createServer(handle);
server.on('upgrade', upgrade);
server.on('error', (err) => { process.stderr.write(`http-peer: ${err.message}\n`); process.exit(1); });
server.listen(Number(opts.port), opts.host, () => process.stdout.write(`ready ${opts.host}:${server.address().port}\n`));

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
