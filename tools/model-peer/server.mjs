// A deterministic, offline stand-in for an AI model provider, for Ward's gateway tests.
// Speaks the OpenAI Chat Completions and Responses APIs and the Anthropic Messages API,
// streaming and not, including tool calls.  No dependencies beyond Node 20 built-ins.
// See README.md.
//
//   node server.mjs --port 0 [--host 127.0.0.1] [--key SECRET] [--delay MS]
//
// Prints exactly one line `ready HOST:PORT` on stdout once listening (as the other test peers do);
// SIGTERM/SIGINT exit with status 0.  Errors go to stderr.

import * as http from 'node:http';

// ---------------------------------------------------------------- options

function usage(message) {
  if (message) process.stderr.write(`model-peer: ${message}\n`);
  process.stderr.write('usage: node server.mjs --port N [--host H] [--key SECRET] [--delay MS]\n');
  process.exit(2);
}

const opts = { port: '0', host: '127.0.0.1', delay: '0' };
const known = { '--port': 'port', '--host': 'host', '--key': 'key', '--delay': 'delay' };
for (let i = 2; i < process.argv.length; i += 2) {
  const name = known[process.argv[i]];
  if (!name || process.argv[i + 1] === undefined) usage(`bad argument ${process.argv[i]}`);
  opts[name] = process.argv[i + 1];
}
if (!/^\d+$/.test(opts.port)) usage('--port must be a number');
if (!/^\d+$/.test(opts.delay)) usage('--delay must be a number of milliseconds');
const DELAY = Number(opts.delay);
const MAX_BODY = 16 * 1024 * 1024;

// Fixed values so that responses are deterministic: ids come from a per-process counter.
const CREATED = 1700000000;
let serial = 0;
const nextId = (prefix) => `${prefix}peer${String(++serial).padStart(6, '0')}`;

// ---------------------------------------------------------------- the "model"

const TOOL_ARGS = JSON.stringify({ sql: 'ALTER TABLE orders ADD COLUMN note text;' });
const TOOL_TEXT = 'I will run the migration.';
const SQL_ANSWER = "Run this:\n```sql\nSELECT count(*) FROM orders WHERE status = 'open';\n```\n";

const words = (s) => (typeof s === 'string' ? s.split(/\s+/).filter(Boolean).length : 0);

// Text of a message content: a string, or an array of parts whose text is joined with "\n".
// Parts: {type:"text"|"input_text"|"output_text", text}, Anthropic tool_result {content},
// Responses function_call_output {output}.
function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part) => textOf(part)).filter((s) => s !== '').join('\n');
  }
  if (content && typeof content === 'object') {
    if (typeof content.text === 'string') return content.text;
    if (content.type === 'tool_result') return textOf(content.content);
    if (content.type === 'function_call_output') return textOf(content.output);
  }
  return '';
}

// decide({userText, toolName, toolResult}) -> {text, tool: {name, arguments} | null}
//   toolResult: the text of a tool result when the conversation ends with one (else null).
function decide({ userText, toolName, toolResult }) {
  if (toolResult !== null) return { text: `Tool said: ${toolResult}`, tool: null };
  if (/migration/i.test(userText) && toolName) {
    return { text: TOOL_TEXT, tool: { name: toolName, arguments: TOOL_ARGS } };
  }
  if (/propose sql/i.test(userText)) return { text: SQL_ANSWER, tool: null };
  return { text: `You said: ${userText}`, tool: null };
}

const completionWords = (answer) => words(answer.text) + (answer.tool ? words(answer.tool.arguments) : 0);

// Streaming pieces: text split after each word's trailing whitespace (concatenation is exact);
// tool arguments split into 8-code-point pieces.
const textPieces = (s) => s.match(/\S+\s*|\s+/g) ?? [];
function argPieces(s) {
  const cps = Array.from(s);
  const out = [];
  for (let i = 0; i < cps.length; i += 8) out.push(cps.slice(i, i + 8).join(''));
  return out;
}

// ---------------------------------------------------------------- HTTP helpers

const requests = [];

function send(res, status, value, extra = {}) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Writes SSE frames one by one, with --delay between them.
async function sse(res, headers, frames) {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
  if (typeof res.flushHeaders === 'function') res.flushHeaders();
  for (const frame of frames) {
    if (res.destroyed) return;
    res.write(frame);
    if (DELAY > 0) await sleep(DELAY);
  }
  res.end();
}

const isAnthropic = (req, path) => path.startsWith('/v1/messages') || req.headers['anthropic-version'] !== undefined;

function error(req, res, path, status, message, { openaiType = 'invalid_request_error', code = null, anthropicType } = {}) {
  if (isAnthropic(req, path)) {
    const type = anthropicType ?? { 400: 'invalid_request_error', 401: 'authentication_error', 404: 'not_found_error', 413: 'request_too_large' }[status] ?? 'api_error';
    send(res, status, { type: 'error', error: { type, message } }, { 'request-id': nextId('req_') });
  } else {
    send(res, status, { error: { message, type: openaiType, param: null, code } }, { 'x-request-id': nextId('req_') });
  }
}

function authorized(req) {
  if (opts.key === undefined) return true;
  const authz = req.headers.authorization ?? '';
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(authz);
  if (m && m[1] === opts.key) return true;
  return req.headers['x-api-key'] === opts.key;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(Object.assign(new Error('request body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseMaybe(raw) {
  if (raw === '') return null;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

// ---------------------------------------------------------------- OpenAI Chat Completions

function chatCompletions(req, res, body) {
  const messages = Array.isArray(body.messages) ? body.messages : null;
  if (!messages) return error(req, res, '/v1/chat/completions', 400, "'messages' is a required property", { code: null });
  const model = typeof body.model === 'string' ? body.model : 'model-peer';

  const last = messages[messages.length - 1];
  const lastUser = [...messages].reverse().find((m) => m && m.role === 'user');
  const toolResult = last && (last.role === 'tool' || last.role === 'function') ? textOf(last.content) : null;
  const tools = Array.isArray(body.tools) ? body.tools.filter((t) => t && t.function && typeof t.function.name === 'string') : [];
  const toolName = body.tool_choice === 'none' ? null : tools[0]?.function.name ?? null;
  const answer = decide({ userText: lastUser ? textOf(lastUser.content) : '', toolName, toolResult });

  const promptTokens = messages.reduce((n, m) => n + words(textOf(m?.content)), 0);
  const completionTokens = completionWords(answer);
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
  const id = nextId('chatcmpl-');
  const callId = answer.tool ? nextId('call_') : null;
  const finishReason = answer.tool ? 'tool_calls' : 'stop';
  const headers = { 'x-request-id': nextId('req_'), 'openai-processing-ms': '1' };

  if (!body.stream) {
    const message = { role: 'assistant', content: answer.text, refusal: null, annotations: [] };
    if (answer.tool) {
      message.tool_calls = [{ id: callId, type: 'function', function: { name: answer.tool.name, arguments: answer.tool.arguments } }];
    }
    return send(res, 200, {
      id,
      object: 'chat.completion',
      created: CREATED,
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
      usage,
      service_tier: 'default',
      system_fingerprint: null,
    }, headers);
  }

  const includeUsage = body.stream_options?.include_usage === true;
  const chunk = (choices, extra = {}) => {
    const c = { id, object: 'chat.completion.chunk', created: CREATED, model, service_tier: 'default', system_fingerprint: null, choices, ...extra };
    if (includeUsage && !('usage' in extra)) c.usage = null;
    return `data: ${JSON.stringify(c)}\n\n`;
  };
  const delta = (d, finish = null) => [{ index: 0, delta: d, logprobs: null, finish_reason: finish }];
  const frames = [chunk(delta({ role: 'assistant', content: '', refusal: null }))];
  for (const piece of textPieces(answer.text)) frames.push(chunk(delta({ content: piece })));
  if (answer.tool) {
    frames.push(chunk(delta({ tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: answer.tool.name, arguments: '' } }] })));
    for (const piece of argPieces(answer.tool.arguments)) frames.push(chunk(delta({ tool_calls: [{ index: 0, function: { arguments: piece } }] })));
  }
  frames.push(chunk(delta({}, finishReason)));
  if (includeUsage) frames.push(chunk([], { usage }));
  frames.push('data: [DONE]\n\n');
  return sse(res, headers, frames);
}

// ---------------------------------------------------------------- OpenAI Responses

function responsesApi(req, res, body) {
  if (body.input === undefined) return error(req, res, '/v1/responses', 400, "Missing required parameter: 'input'.", { code: 'missing_required_parameter' });
  const model = typeof body.model === 'string' ? body.model : 'model-peer';

  // input: a string (one user message) or a list of items: messages {role, content} (with or
  // without type:"message"), function_call, function_call_output, ...
  const items = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : Array.isArray(body.input) ? body.input : [];
  const last = items[items.length - 1];
  const lastUser = [...items].reverse().find((it) => it && it.role === 'user');
  const toolResult = last && last.type === 'function_call_output' ? textOf(last.output) : null;
  const tools = Array.isArray(body.tools) ? body.tools.filter((t) => t && t.type === 'function' && typeof t.name === 'string') : [];
  const toolName = body.tool_choice === 'none' ? null : tools[0]?.name ?? null;
  const answer = decide({ userText: lastUser ? textOf(lastUser.content) : '', toolName, toolResult });

  const inputTokens = words(typeof body.instructions === 'string' ? body.instructions : '') +
    items.reduce((n, it) => n + words(it?.type === 'function_call_output' ? textOf(it.output) : textOf(it?.content)), 0);
  const outputTokens = completionWords(answer);

  const respId = nextId('resp_');
  const msgId = nextId('msg_');
  const fc = answer.tool ? { id: nextId('fc_'), call_id: nextId('call_') } : null;
  const headers = { 'x-request-id': nextId('req_'), 'openai-processing-ms': '1' };

  const textPart = (text) => ({ type: 'output_text', text, annotations: [], logprobs: [] });
  const messageItem = (status, content) => ({ id: msgId, type: 'message', status, role: 'assistant', content });
  const callItem = (status, args) => ({ id: fc.id, type: 'function_call', status, arguments: args, call_id: fc.call_id, name: answer.tool.name });
  const output = [messageItem('completed', [textPart(answer.text)])];
  if (fc) output.push(callItem('completed', answer.tool.arguments));

  const response = (status, out, usage) => ({
    id: respId,
    object: 'response',
    created_at: CREATED,
    status,
    background: false,
    completed_at: status === 'completed' ? CREATED : null,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: null,
    model,
    output: out,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: body.store ?? true,
    temperature: body.temperature ?? 1.0,
    text: body.text ?? { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: body.tool_choice ?? 'auto',
    tools: Array.isArray(body.tools) ? body.tools : [],
    top_logprobs: 0,
    top_p: body.top_p ?? 1.0,
    truncation: 'disabled',
    usage,
    user: null,
    metadata: body.metadata ?? {},
  });
  const usage = {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: inputTokens + outputTokens,
  };

  if (!body.stream) return send(res, 200, response('completed', output, usage), headers);

  let seq = 0;
  const frames = [];
  const ev = (type, fields) => frames.push(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...fields })}\n\n`);
  ev('response.created', { response: response('in_progress', [], null) });
  ev('response.in_progress', { response: response('in_progress', [], null) });
  const where = { item_id: msgId, output_index: 0, content_index: 0 };
  ev('response.output_item.added', { output_index: 0, item: messageItem('in_progress', []) });
  ev('response.content_part.added', { ...where, part: textPart('') });
  for (const piece of textPieces(answer.text)) ev('response.output_text.delta', { ...where, delta: piece, logprobs: [] });
  ev('response.output_text.done', { ...where, text: answer.text, logprobs: [] });
  ev('response.content_part.done', { ...where, part: textPart(answer.text) });
  ev('response.output_item.done', { output_index: 0, item: output[0] });
  if (fc) {
    ev('response.output_item.added', { output_index: 1, item: callItem('in_progress', '') });
    for (const piece of argPieces(answer.tool.arguments)) ev('response.function_call_arguments.delta', { item_id: fc.id, output_index: 1, delta: piece });
    ev('response.function_call_arguments.done', { item_id: fc.id, output_index: 1, name: answer.tool.name, arguments: answer.tool.arguments });
    ev('response.output_item.done', { output_index: 1, item: output[1] });
  }
  ev('response.completed', { response: response('completed', output, usage) });
  return sse(res, headers, frames);
}

// ---------------------------------------------------------------- Anthropic Messages

function anthropicPromptWords(body, messages) {
  return words(textOf(body.system)) + messages.reduce((n, m) => n + words(textOf(m?.content)), 0);
}

function messagesApi(req, res, body) {
  const messages = Array.isArray(body.messages) ? body.messages : null;
  if (!messages) return error(req, res, '/v1/messages', 400, 'messages: Field required');
  const model = typeof body.model === 'string' ? body.model : 'model-peer';

  const last = messages[messages.length - 1];
  const lastUser = [...messages].reverse().find((m) => m && m.role === 'user');
  // A user turn made only of tool_result blocks (no text) is a tool result, not a new prompt.
  const lastParts = Array.isArray(last?.content) ? last.content : [];
  const endsWithToolResult = last?.role === 'user' && lastParts.some((p) => p?.type === 'tool_result') && !lastParts.some((p) => p?.type === 'text');
  const toolResult = endsWithToolResult ? textOf(lastParts.filter((p) => p?.type === 'tool_result')) : null;
  const tools = Array.isArray(body.tools) ? body.tools.filter((t) => t && typeof t.name === 'string') : [];
  const toolName = body.tool_choice?.type === 'none' ? null : tools[0]?.name ?? null;
  const answer = decide({ userText: lastUser ? textOf(lastUser.content) : '', toolName, toolResult });

  const inputTokens = anthropicPromptWords(body, messages);
  const outputTokens = completionWords(answer);
  const id = nextId('msg_');
  const toolId = answer.tool ? nextId('toolu_') : null;
  const stopReason = answer.tool ? 'tool_use' : 'end_turn';
  const headers = { 'request-id': nextId('req_') };
  const usage = (output) => ({ input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: output, service_tier: 'standard' });
  const message = (content, stop, output) => ({
    id, type: 'message', role: 'assistant', model, content, stop_reason: stop, stop_sequence: null, usage: usage(output),
  });

  if (!body.stream) {
    const content = [{ type: 'text', text: answer.text }];
    if (answer.tool) content.push({ type: 'tool_use', id: toolId, name: answer.tool.name, input: JSON.parse(answer.tool.arguments) });
    return send(res, 200, message(content, stopReason, outputTokens), headers);
  }

  const frames = [];
  const ev = (type, fields) => frames.push(`event: ${type}\ndata: ${JSON.stringify({ type, ...fields })}\n\n`);
  ev('message_start', { message: message([], null, 1) });
  ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  ev('ping', {});
  for (const piece of textPieces(answer.text)) ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: piece } });
  ev('content_block_stop', { index: 0 });
  if (answer.tool) {
    ev('content_block_start', { index: 1, content_block: { type: 'tool_use', id: toolId, name: answer.tool.name, input: {} } });
    ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '' } });
    for (const piece of argPieces(answer.tool.arguments)) ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: piece } });
    ev('content_block_stop', { index: 1 });
  }
  ev('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } });
  ev('message_stop', {});
  return sse(res, headers, frames);
}

function countTokens(req, res, body) {
  const messages = Array.isArray(body.messages) ? body.messages : null;
  if (!messages) return error(req, res, '/v1/messages/count_tokens', 400, 'messages: Field required');
  return send(res, 200, { input_tokens: anthropicPromptWords(body, messages) }, { 'request-id': nextId('req_') });
}

// ---------------------------------------------------------------- models

const MODELS = ['gpt-peer', 'claude-peer'];
function listModels(res) {
  send(res, 200, { object: 'list', data: MODELS.map((id) => ({ id, object: 'model', created: CREATED, owned_by: 'model-peer' })) });
}

// ---------------------------------------------------------------- routing

const ROUTES = {
  'POST /v1/chat/completions': chatCompletions,
  'POST /v1/responses': responsesApi,
  'POST /v1/messages': messagesApi,
  'POST /v1/messages/count_tokens': countTokens,
};

async function handle(req, res) {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);

  if (path === '/_peer/requests') {
    await readBody(req).catch(() => '');
    if (req.method === 'GET') return send(res, 200, requests);
    if (req.method === 'DELETE') {
      requests.length = 0;
      return send(res, 200, { cleared: true });
    }
    return send(res, 405, { error: 'method not allowed' });
  }

  let raw;
  try {
    raw = await readBody(req);
  } catch (err) {
    if (err.status === 413 && !res.headersSent) return error(req, res, path, 413, err.message);
    return;
  }
  const parsed = parseMaybe(raw);
  requests.push({ method: req.method, path, query: q < 0 ? null : url.slice(q + 1), headers: req.headers, body: parsed });

  if (!authorized(req)) {
    return error(req, res, path, 401,
      isAnthropic(req, path) ? 'invalid x-api-key' : 'Incorrect API key provided.',
      { code: 'invalid_api_key' });
  }

  if (req.method === 'GET' && path === '/v1/models') return listModels(res);
  const route = ROUTES[`${req.method} ${path}`];
  if (!route) return error(req, res, path, 404, `model-peer: no route for ${req.method} ${path}`, { code: 'not_found' });
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return error(req, res, path, 400, 'request body must be a JSON object', { code: 'invalid_json' });
  }
  return route(req, res, parsed);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    process.stderr.write(`model-peer: ${err.stack ?? err}\n`);
    if (!res.headersSent) send(res, 500, { error: { message: 'internal error', type: 'server_error', param: null, code: null } });
    else res.destroy();
  });
});
server.on('error', (err) => {
  process.stderr.write(`model-peer: ${err.message}\n`);
  process.exit(1);
});
server.listen(Number(opts.port), opts.host, () => process.stdout.write(`ready ${opts.host}:${server.address().port}\n`));

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
