import { useEffect, useMemo, useState } from 'preact/hooks';
import { Session, WardEvent } from '../api';
import { fmtBytes, fmtDuration, fmtOffset, fmtTime } from '../format';
import { VirtualList } from './VirtualList';
import { LockIcon } from './Bits';
import { EventBody } from './DbTimeline';
import { TimelineFoot, useEventPages } from './EventPages';

type Ev<K extends WardEvent['kind']> = Extract<WardEvent, { kind: K }>;
type BodyChunk = Ev<'http.body'>;
type WsMessage = Ev<'http.websocket'>;

// A payload's fields at their defaults are left out of the record (an empty `removed`, no
// `query`): read them with their defaults filled in.
interface Req {
  method: string;
  path: string;
  query: string | null;
  headers: Record<string, string>;
  removed: string[];
}
interface Res {
  status: number;
  headers: Record<string, string>;
  removed: string[];
  duration_ms: number;
  error: string | null;
}
type Partially<T> = { [K in keyof T]?: T[K] | null };

function readRequest(p: Partially<Req>): Req {
  return {
    method: p.method ?? '',
    path: p.path ?? '',
    query: p.query ?? null,
    headers: p.headers ?? {},
    removed: p.removed ?? [],
  };
}

function readResponse(p: Partially<Res>): Res {
  return {
    status: p.status ?? 0,
    headers: p.headers ?? {},
    removed: p.removed ?? [],
    duration_ms: p.duration_ms ?? 0,
    error: p.error ?? null,
  };
}

/**
 * A request and what followed it until the next request: its answer (or Ward's, `error`), the
 * body chunks of both directions, the WebSocket messages of an upgrade, a guardrail's denial
 * or hold.
 */
interface Exchange {
  type: 'exchange';
  /** The request's seq. */
  key: number;
  /** When it was asked. */
  at: string;
  req: Req;
  res: Res | null;
  denied: Ev<'policy.denied'> | null;
  bodies: BodyChunk[];
  ws: WsMessage[];
  /** A guardrail's hold for review and its outcome, shown under the request. */
  notes: WardEvent[];
  /** Masking rules applied to its events, and how often. */
  masked: Map<string, number>;
  /** Body bytes as recorded (masked), and those counted past the cap. */
  requestBytes: number;
  responseBytes: number;
}

/** Any other event (session start and end, sign-in, policy decision…): a row of its own. */
interface Single {
  type: 'event';
  key: number;
  ev: WardEvent;
  masked: Map<string, number>;
}

type Row = Exchange | Single;

/**
 * Groups events into rows as pages arrive: each event is looked at once, however long the
 * session (the rows of the pages before are kept, the exchange still open is extended).
 */
class Rows {
  rows: Row[] = [];
  /** How many of the rows are requests. */
  requests = 0;
  private seen = 0;
  private current: Exchange | null = null;
  /** The row each event went into, for `mask.applied` (it names the event it masked) and `?seq=`. */
  owner = new Map<number, Row>();

  add(events: WardEvent[]): Row[] {
    if (events.length === this.seen) return this.rows;
    for (let i = this.seen; i < events.length; i++) this.take(events[i]);
    this.seen = events.length;
    // a new array for the list; the rows themselves are shared
    this.rows = this.rows.slice();
    return this.rows;
  }

  private single(ev: WardEvent): void {
    const row: Single = { type: 'event', key: ev.seq, ev, masked: new Map() };
    this.rows.push(row);
    this.owner.set(ev.seq, row);
  }

  private take(ev: WardEvent): void {
    const cur = this.current;
    switch (ev.kind) {
      case 'http.request': {
        const ex: Exchange = {
          type: 'exchange',
          key: ev.seq,
          at: ev.at,
          req: readRequest(ev.payload),
          res: null,
          denied: null,
          bodies: [],
          ws: [],
          notes: [],
          masked: new Map(),
          requestBytes: 0,
          responseBytes: 0,
        };
        this.rows.push(ex);
        this.requests++;
        this.owner.set(ev.seq, ex);
        this.current = ex;
        return;
      }
      case 'http.response':
        if (cur && !cur.res && !cur.denied) {
          cur.res = readResponse(ev.payload);
          this.owner.set(ev.seq, cur);
          return;
        }
        break;
      case 'http.body':
        if (cur) {
          cur.bodies.push(ev);
          if (ev.payload.stream === 'request') cur.requestBytes += chunkBytes(ev);
          else cur.responseBytes += chunkBytes(ev);
          this.owner.set(ev.seq, cur);
          return;
        }
        break;
      case 'http.websocket':
        if (cur) {
          cur.ws.push(ev);
          this.owner.set(ev.seq, cur);
          return;
        }
        break;
      case 'policy.denied':
        if (cur && !cur.res && !cur.denied) {
          cur.denied = ev;
          this.owner.set(ev.seq, cur);
          return;
        }
        break;
      case 'review.held':
      case 'review.decided':
        if (cur && !cur.res) {
          cur.notes.push(ev);
          this.owner.set(ev.seq, cur);
          return;
        }
        break;
      case 'mask.applied': {
        const target = this.owner.get(ev.payload.event_seq);
        if (target) {
          for (const [rule, n] of Object.entries(ev.payload.rules ?? {})) {
            target.masked.set(rule, (target.masked.get(rule) ?? 0) + n);
          }
          this.owner.set(ev.seq, target);
          return;
        }
        break;
      }
    }
    this.single(ev);
  }
}

/** UTF-8 length of a string, without encoding it. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Bytes base64 text decodes to. */
function base64Bytes(b64: string): number {
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((b64.length * 3) / 4) - pad);
}

function chunkBytes(c: BodyChunk): number {
  const p = c.payload;
  let n = p.bytes_not_stored ?? 0;
  if (p.data != null) n += utf8Length(p.data);
  if (p.data_b64 != null) n += base64Bytes(p.data_b64);
  return n;
}

function statusClass(status: number): string {
  if (status >= 500) return 'st-5xx';
  if (status >= 400) return 'st-4xx';
  if (status >= 300) return 'st-3xx';
  if (status >= 200) return 'st-2xx';
  return 'st-1xx';
}

function maskedList(m: Map<string, number>): string {
  return [...m].map(([rule, n]) => (n > 1 ? `${rule} ×${n}` : rule)).join(', ');
}

/** `/path?query` as the client asked for it. */
function target(p: Req): string {
  const path = p.path || '/';
  return p.query != null && p.query !== '' ? `${path}?${p.query}` : path;
}

/**
 * HTTP-session timeline: one row per request (method, path, status, duration, body sizes),
 * expandable to its headers, bodies and WebSocket messages; the session's other events as
 * rows of their own. Virtualized; pages are fetched as the user scrolls towards the end, and
 * a live session is followed.
 */
export function HttpTimeline({ session, focusSeq }: { session: Session; focusSeq?: number | null }) {
  const pages = useEventPages(session, focusSeq);
  const { events, nextAfter, lastSeq, loadMore } = pages;
  const [builder] = useState(() => new Rows());
  const rows = useMemo(() => builder.add(events), [events]);
  const [expanded, setExpanded] = useState<Set<number>>(() => new Set());
  const requests = builder.requests;

  const focusRow = useMemo(() => {
    if (focusSeq == null) return null;
    // wait until some events after the target are loaded, so it can sit at the top
    if (lastSeq < focusSeq + 100 && nextAfter != null) return null;
    return builder.owner.get(focusSeq) ?? null;
  }, [rows, focusSeq, nextAfter]);
  const focusIndex = useMemo(() => (focusRow ? rows.indexOf(focusRow) : null), [focusRow]);

  // A deep link to an event of a request opens that request's details.
  useEffect(() => {
    if (focusRow?.type === 'exchange') setExpanded((prev) => new Set(prev).add(focusRow.key));
  }, [focusRow]);

  const toggle = (key: number) =>
    setExpanded((prev) => {
      const n = new Set(prev);
      if (n.has(key)) n.delete(key);
      else n.add(key);
      return n;
    });

  const onRange = (_first: number, last: number) => {
    if (nextAfter != null && last >= rows.length - 20) loadMore(nextAfter);
  };

  return (
    <div class="timeline-wrap">
      <div class="timeline-legend muted small">
        {requests.toLocaleString()} request{requests === 1 ? '' : 's'} · {events.length.toLocaleString()} of{' '}
        {session.event_count.toLocaleString()} events loaded
      </div>
      <VirtualList
        items={rows}
        itemKey={(r) => r.key}
        estimate={36}
        label="HTTP requests"
        testId="http-timeline"
        class="timeline"
        onRange={onRange}
        scrollToIndex={focusIndex}
        footer={<TimelineFoot pages={pages} session={session} count={events.length} />}
        renderItem={(r) =>
          r.type === 'exchange' ? (
            <ExchangeRow
              ex={r}
              session={session}
              expanded={expanded.has(r.key)}
              onToggle={() => toggle(r.key)}
              focused={r === focusRow}
            />
          ) : (
            <EventRow row={r} session={session} focused={r === focusRow} />
          )
        }
      />
    </div>
  );
}

function RowMeta({ seq, at, session }: { seq: number; at: string; session: Session }) {
  return (
    <div class="ti-meta">
      <span class="ti-seq">#{seq}</span>
      <time dateTime={at} title={fmtTime(at)}>
        {fmtOffset(session.started_at, at)}
      </time>
    </div>
  );
}

function MaskedChip({ masked }: { masked: Map<string, number> }) {
  if (!masked.size) return null;
  return (
    <span class="chip chip-masked" data-testid="masked-marker">
      <LockIcon /> masked: {maskedList(masked)}
    </span>
  );
}

const noop = () => {};

function EventRow({ row, session, focused }: { row: Single; session: Session; focused: boolean }) {
  const ev = row.ev;
  const cls = ['ti', `ti-${ev.kind.replace(/[^a-z0-9]+/gi, '-')}`, focused ? 'ti-focus' : ''].join(' ');
  return (
    <div class={cls} data-testid="timeline-item" data-kind={ev.kind} data-seq={ev.seq}>
      <RowMeta seq={ev.seq} at={ev.at} session={session} />
      <div class="ti-body">
        <MaskedChip masked={row.masked} />
        <EventBody ev={ev} expanded={false} onToggle={noop} page={0} onPage={noop} />
      </div>
    </div>
  );
}

function ExchangeRow({
  ex,
  session,
  expanded,
  onToggle,
  focused,
}: {
  ex: Exchange;
  session: Session;
  expanded: boolean;
  onToggle: () => void;
  focused: boolean;
}) {
  const { req, res } = ex;
  const path = target(req);
  const status = ex.denied ? 'denied' : res ? String(res.status) : 'pending';
  const type = res?.headers['content-type'];
  const cls = ['ti', 'hx', ex.denied ? 'hx-denied' : '', res?.error ? 'hx-error' : '', focused ? 'ti-focus' : '']
    .join(' ');
  return (
    <div
      class={cls}
      data-testid="http-exchange"
      data-seq={ex.key}
      data-method={req.method}
      data-path={path}
      data-status={status}
      data-masked={ex.masked.size ? 'true' : undefined}
    >
      <RowMeta seq={ex.key} at={ex.at} session={session} />
      <div class="ti-body">
        <div class="hx-line">
          <button
            type="button"
            class="btn btn-small toggle"
            aria-expanded={expanded}
            aria-label={expanded ? 'Hide details' : 'Show details'}
            onClick={onToggle}
            data-testid="http-toggle"
          >
            {expanded ? '▾' : '▸'}
          </button>
          <span class="http-method" data-testid="http-method">
            {req.method}
          </span>
          <code class="hx-path" title={path} data-testid="http-path">
            {path}
          </code>
          {ex.denied ? (
            <span class="http-status st-denied" data-testid="http-status">
              denied
            </span>
          ) : res ? (
            <span class={`http-status ${statusClass(res.status)}`} data-testid="http-status">
              {res.status}
            </span>
          ) : (
            <span class="http-status st-pending" data-testid="http-status" title="no answer recorded (yet)">
              …
            </span>
          )}
          {res && <span class="dur">{fmtDuration(res.duration_ms)}</span>}
          {type && <span class="muted small">{type}</span>}
          {(ex.requestBytes > 0 || ex.responseBytes > 0) && (
            <span
              class="muted small"
              title="request body ↑ / response body ↓ as recorded (masked), with any bytes past the cap"
            >
              ↑ {fmtBytes(ex.requestBytes)} ↓ {fmtBytes(ex.responseBytes)}
            </span>
          )}
          {ex.ws.length > 0 && (
            <span class="chip chip-ws" data-testid="ws-count">
              {ex.ws.length.toLocaleString()} WebSocket message{ex.ws.length === 1 ? '' : 's'}
            </span>
          )}
          <MaskedChip masked={ex.masked} />
        </div>
        {ex.notes.map((n) => (
          <EventBody key={n.seq} ev={n} expanded={false} onToggle={noop} page={0} onPage={noop} />
        ))}
        {ex.denied && <Denied ev={ex.denied} />}
        {res?.error && (
          <div class="ti-line bad" role="note" data-testid="http-error">
            <strong>✖ Ward answered {res.status}:</strong> {res.error}
          </div>
        )}
        {expanded && <ExchangeDetails ex={ex} session={session} />}
      </div>
    </div>
  );
}

function Denied({ ev }: { ev: Ev<'policy.denied'> }) {
  const p = ev.payload;
  return (
    <div class="ti-line bad denied" role="note" data-testid="http-denied" data-rule={p.rule ?? undefined}>
      <strong>
        ✖ Denied{p.rule ? <> by guardrail “{p.rule}”</> : p.refused ? <> ({p.refused} refused)</> : null}
      </strong>
      {p.reason && <span> — {p.reason}</span>}
      {p.message && <div class="small">Client was told: {p.message}</div>}
    </div>
  );
}

function ExchangeDetails({ ex, session }: { ex: Exchange; session: Session }) {
  const { req, res } = ex;
  return (
    <div class="hx-details" data-testid="http-details">
      <section class="hx-part">
        <h4>Request</h4>
        <Headers headers={req.headers} removed={req.removed} testId="http-request-headers" />
        <Body ex={ex} stream="request" testId="http-request-body" />
      </section>
      {res && (
        <section class="hx-part">
          <h4>
            Response <span class={`http-status ${statusClass(res.status)}`}>{res.status}</span>{' '}
            <span class="dur">after {fmtDuration(res.duration_ms)}</span>
          </h4>
          {res.error ? (
            <div class="muted small">Ward's own answer: the resource sent none.</div>
          ) : (
            <>
              <Headers headers={res.headers} removed={res.removed} testId="http-response-headers" />
              <Body ex={ex} stream="response" testId="http-response-body" />
            </>
          )}
        </section>
      )}
      {ex.ws.length > 0 && <WebSocketMessages ws={ex.ws} session={session} />}
    </div>
  );
}

function Headers({ headers, removed, testId }: { headers: Record<string, string>; removed: string[]; testId: string }) {
  const names = Object.keys(headers);
  return (
    <div class="hx-headers" data-testid={testId}>
      {names.length > 0 ? (
        <table>
          <tbody>
            {names.map((name) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td>{headers[name]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <div class="muted small">no headers recorded</div>
      )}
      {removed.length > 0 && (
        <div class="muted small" data-testid="http-removed" title="credentials: Ward records their names only">
          not recorded: {removed.join(', ')}
        </div>
      )}
    </div>
  );
}

type BodyPart =
  | { kind: 'text'; text: string }
  | { kind: 'binary'; bytes: number }
  | { kind: 'unstored'; bytes: number; sha256: string | null };

/** A body's chunks of one direction joined: runs of text, runs of binary, what was not stored. */
function bodyParts(chunks: BodyChunk[], stream: string): BodyPart[] {
  const parts: BodyPart[] = [];
  let texts: string[] = [];
  const flush = () => {
    if (texts.length) parts.push({ kind: 'text', text: texts.join('') });
    texts = [];
  };
  for (const c of chunks) {
    const p = c.payload;
    if (p.stream !== stream) continue;
    if (p.data != null) texts.push(p.data);
    if (p.data_b64 != null) {
      flush();
      const last = parts[parts.length - 1];
      if (last?.kind === 'binary') last.bytes += base64Bytes(p.data_b64);
      else parts.push({ kind: 'binary', bytes: base64Bytes(p.data_b64) });
    }
    if (p.truncated || p.bytes_not_stored != null) {
      flush();
      parts.push({ kind: 'unstored', bytes: p.bytes_not_stored ?? 0, sha256: p.sha256_not_stored ?? null });
    }
  }
  flush();
  return parts;
}

/** Text longer than this shows its start until asked for all of it. */
const SHOWN_CHARS = 64 * 1024;

function Body({ ex, stream, testId }: { ex: Exchange; stream: 'request' | 'response'; testId: string }) {
  // (bodies only grow: their count says whether they changed)
  const parts = useMemo(() => bodyParts(ex.bodies, stream), [ex, ex.bodies.length, stream]);
  const [all, setAll] = useState(false);
  const [pretty, setPretty] = useState(false);
  const headers = (stream === 'request' ? ex.req.headers : ex.res?.headers) ?? {};
  const json = /\bjson\b/i.test(headers['content-type'] ?? '') && parts.length === 1 && parts[0].kind === 'text';
  const formatted = useMemo(() => {
    if (!pretty || !json || parts[0].kind !== 'text') return null;
    try {
      return JSON.stringify(JSON.parse(parts[0].text), null, 2);
    } catch {
      return null;
    }
  }, [pretty, json, parts]);
  if (!parts.length) {
    // (a response that has none by its status says nothing)
    const status = ex.res?.status ?? 0;
    const bodiless = status < 200 || status === 204 || status === 304;
    return stream === 'response' && !bodiless ? <div class="muted small">no body</div> : null;
  }
  const bytes = stream === 'request' ? ex.requestBytes : ex.responseBytes;
  return (
    <div class="hx-body" data-testid={testId}>
      <div class="hx-body-head muted small">
        Body · {fmtBytes(bytes)}
        {json && (
          <button type="button" class="btn btn-small" aria-pressed={pretty} onClick={() => setPretty((v) => !v)}>
            {pretty ? 'As recorded' : 'Format JSON'}
          </button>
        )}
      </div>
      {parts.map((part, i) => {
        switch (part.kind) {
          case 'text': {
            const text = formatted ?? part.text;
            const cut = !all && text.length > SHOWN_CHARS;
            return (
              <div key={i}>
                <pre class="hx-text" data-testid="http-body-text">
                  {cut ? text.slice(0, SHOWN_CHARS) : text}
                </pre>
                {cut && (
                  <button type="button" class="btn btn-small" onClick={() => setAll(true)}>
                    Show all {text.length.toLocaleString()} characters
                  </button>
                )}
              </div>
            );
          }
          case 'binary':
            return (
              <span key={i} class="chip chip-binary" data-testid="http-body-binary">
                binary, {part.bytes.toLocaleString()} bytes
              </span>
            );
          case 'unstored':
            return (
              <span
                key={i}
                class="chip chip-warn"
                data-testid="http-body-unstored"
                title="past [recording] max_result_bytes: counted and hashed, not stored"
              >
                {part.bytes.toLocaleString()} bytes not stored
                {part.sha256 && (
                  <>
                    {' '}
                    (sha256 <code class="sha">{part.sha256}</code>)
                  </>
                )}
              </span>
            );
        }
      })}
    </div>
  );
}

/** Messages listed at first; more on request (a long-lived socket may carry very many). */
const SHOWN_MESSAGES = 200;

function WebSocketMessages({ ws, session }: { ws: WsMessage[]; session: Session }) {
  const [limit, setLimit] = useState(SHOWN_MESSAGES);
  return (
    <section class="hx-part" data-testid="ws-messages">
      <h4>
        WebSocket · {ws.length.toLocaleString()} message{ws.length === 1 ? '' : 's'}
      </h4>
      <ol class="ws-list">
        {ws.slice(0, limit).map((m) => {
          const p = m.payload;
          const bytes = p.bytes ?? 0;
          const fromClient = p.from === 'client';
          return (
            <li
              key={m.seq}
              class={`ws-msg ws-${fromClient ? 'client' : 'server'}`}
              data-testid="ws-message"
              data-from={p.from}
              data-opcode={p.opcode}
            >
              <span
                class="ws-dir"
                title={fromClient ? 'client → service' : 'service → client'}
                aria-label={fromClient ? 'from the client' : 'from the service'}
              >
                {fromClient ? '→' : '←'}
              </span>
              <time class="muted small" dateTime={m.at} title={fmtTime(m.at)}>
                {fmtOffset(session.started_at, m.at)}
              </time>
              <span class="ws-op">{p.opcode}</span>
              {p.opcode === 'close' && p.code != null && <span>code {p.code}</span>}
              {p.data != null && p.data !== '' && <code class="ws-text">{p.data}</code>}
              {p.data == null && p.data_b64 != null && (
                <span class="chip chip-binary">binary, {bytes.toLocaleString()} bytes</span>
              )}
              {p.data == null && p.data_b64 == null && p.opcode !== 'close' && (
                <span class="muted small">{fmtBytes(bytes)}</span>
              )}
              {p.truncated && (
                <span class="chip chip-warn" title="only the first [recording] max_result_bytes were stored">
                  truncated: {bytes.toLocaleString()} bytes in all
                </span>
              )}
            </li>
          );
        })}
      </ol>
      {ws.length > limit && (
        <button type="button" class="btn btn-small" onClick={() => setLimit((n) => n + 500)}>
          Show {Math.min(500, ws.length - limit).toLocaleString()} more of {(ws.length - limit).toLocaleString()}
        </button>
      )}
    </section>
  );
}
