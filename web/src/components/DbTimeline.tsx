import { useMemo, useState } from 'preact/hooks';
import { Session, WardEvent } from '../api';
import { fmtBytes, fmtDuration, fmtOffset, fmtSeconds, fmtTime, fmtUs, isMasked } from '../format';
import { VirtualList } from './VirtualList';
import { ResultTable } from './ResultTable';
import { LockIcon } from './Bits';
import { RequestLink } from './Requests';
import { TimelineFoot, useEventPages } from './EventPages';

/**
 * Database-session timeline (PostgreSQL and MySQL sessions alike: both record `db.query`,
 * `db.result`, `db.complete` and `db.error`): one row per recorded event, statements with their
 * results/completions/errors indented under them. Virtualized; pages are fetched as the user
 * scrolls towards the end.
 */
export function DbTimeline({ session, focusSeq }: { session: Session; focusSeq?: number | null }) {
  const pages = useEventPages(session, focusSeq);
  const { events, nextAfter, lastSeq, loadMore } = pages;
  const [expanded, setExpanded] = useState<Set<number>>(() => new Set());
  const [resultPages, setResultPages] = useState<Map<number, number>>(() => new Map());

  const masks = useMemo(() => {
    const m = new Map<number, string[]>();
    for (const e of events) {
      if (e.kind === 'mask.applied' && e.payload && typeof e.payload.event_seq === 'number') {
        const rules = Object.entries((e.payload.rules ?? {}) as Record<string, number>).map(([r, n]) =>
          n > 1 ? `${r} ×${n}` : r,
        );
        m.set(e.payload.event_seq, (m.get(e.payload.event_seq) ?? []).concat(rules));
      }
    }
    return m;
  }, [events]);

  const focusIndex = useMemo(() => {
    if (focusSeq == null) return null;
    // wait until some rows after the target are loaded, so it can sit at the top
    if (lastSeq < focusSeq + 100 && nextAfter != null) return null;
    const i = events.findIndex((e) => e.seq >= focusSeq);
    return i >= 0 ? i : null;
  }, [events, focusSeq, nextAfter]);

  const toggle = (seq: number) =>
    setExpanded((prev) => {
      const n = new Set(prev);
      if (n.has(seq)) n.delete(seq);
      else n.add(seq);
      return n;
    });

  const onRange = (_first: number, last: number) => {
    // (loadMore reads one page at a time: a call while one is read does nothing)
    if (nextAfter != null && last >= events.length - 40) loadMore(nextAfter);
  };

  const footer = <TimelineFoot pages={pages} session={session} count={events.length} />;

  return (
    <div class="timeline-wrap">
      <div class="timeline-legend muted small">
        {events.length.toLocaleString()} of {session.event_count.toLocaleString()} events loaded
      </div>
      <VirtualList
        items={events}
        itemKey={(e) => e.seq}
        estimate={34}
        label="Session timeline"
        testId="timeline"
        class="timeline"
        onRange={onRange}
        scrollToIndex={focusIndex}
        footer={footer}
        renderItem={(e) => (
          <TimelineItem
            ev={e}
            session={session}
            masked={masks.get(e.seq)}
            expanded={expanded.has(e.seq)}
            onToggle={() => toggle(e.seq)}
            page={resultPages.get(e.seq) ?? 0}
            onPage={(p) => setResultPages((prev) => new Map(prev).set(e.seq, p))}
            focused={focusSeq === e.seq}
          />
        )}
      />
    </div>
  );
}

const INDENTED = new Set(['db.result', 'db.complete', 'db.error', 'policy.denied', 'mask.applied', 'db.notice', 'db.copy']);

function TimelineItem({
  ev,
  session,
  masked,
  expanded,
  onToggle,
  page,
  onPage,
  focused,
}: {
  ev: WardEvent;
  session: Session;
  masked?: string[];
  expanded: boolean;
  onToggle: () => void;
  page: number;
  onPage: (p: number) => void;
  focused: boolean;
}) {
  const cls = [
    'ti',
    `ti-${ev.kind.replace(/[^a-z0-9]+/gi, '-')}`,
    INDENTED.has(ev.kind) ? 'ti-child' : '',
    focused ? 'ti-focus' : '',
  ].join(' ');
  return (
    <div class={cls} data-testid="timeline-item" data-kind={ev.kind} data-seq={ev.seq} data-masked={masked ? 'true' : undefined}>
      <div class="ti-meta">
        <span class="ti-seq">#{ev.seq}</span>
        <time dateTime={ev.at} title={fmtTime(ev.at)}>
          {fmtOffset(session.started_at, ev.at)}
        </time>
      </div>
      <div class="ti-body">
        {masked && masked.length > 0 && (
          <span class="chip chip-masked" data-testid="masked-marker">
            <LockIcon /> masked: {masked.join(', ')}
          </span>
        )}
        <EventBody ev={ev} expanded={expanded} onToggle={onToggle} page={page} onPage={onPage} protocol={session.protocol} />
      </div>
    </div>
  );
}

/** One event as the timeline shows it; the HTTP timeline shows the events around its requests with it. */
export function EventBody({
  ev,
  expanded,
  onToggle,
  page,
  onPage,
  protocol,
}: {
  ev: WardEvent;
  expanded: boolean;
  onToggle: () => void;
  page: number;
  onPage: (p: number) => void;
  /** The session's protocol, where an event reads differently by protocol (result column types). */
  protocol?: string;
}) {
  switch (ev.kind) {
    case 'session.start': {
      const p = ev.payload;
      const id = p.identity;
      return (
        <div class="ti-line">
          <span class="ti-kind">session start</span> <strong>{id?.subject ?? '?'}</strong>
          {id && id.groups.length > 0 && <span class="muted"> ({id.groups.join(', ')})</span>}
          {id?.method && <span class="muted"> via {id.method}</span>}
          {id?.issuer && <span class="muted"> from {id.issuer}</span>} → {p.resource} ({p.protocol})
          {p.client_addr && <span class="muted"> · client {p.client_addr}</span>}
        </div>
      );
    }
    case 'auth': {
      const p = ev.payload;
      return (
        <div class={`ti-line ${p.result && p.result !== 'ok' && p.result !== 'success' ? 'bad' : ''}`}>
          <span class="ti-kind">auth</span> {p.method} {p.user} → <strong>{String(p.result ?? '')}</strong>
          {p.reason && <span class="muted"> ({p.reason})</span>}
          {typeof p.credential_in === 'string' && (
            <span class="muted" data-testid="credential-in">
              {' '}
              · credential in {p.credential_in}
            </span>
          )}
        </div>
      );
    }
    case 'policy.decision': {
      const p = ev.payload;
      return (
        <div class={`ti-line ${p.allowed ? 'good' : 'bad'}`}>
          <span class="ti-kind">policy</span> {p.allowed ? '✔ allowed' : '✖ denied'} {p.resource}
          {p.upstream_user && <span class="muted"> as {p.upstream_user}</span>}
          {p.reason && <span class="muted"> — {p.reason}</span>}
          {p.reason_given && (
            <span data-testid="reason-given">
              {' '}
              · reason: <strong>{p.reason_given}</strong>
            </span>
          )}
          {p.approval && (
            <span data-testid="approval-ref">
              {' '}
              · approved request <RequestLink id={p.approval.request} /> by {p.approval.approved_by.join(', ')}, until{' '}
              <time dateTime={p.approval.until}>{fmtTime(p.approval.until)}</time>
            </span>
          )}
        </div>
      );
    }
    case 'access.request': {
      const p = ev.payload;
      return (
        <div class="ti-line">
          <span class="ti-kind">access request</span> <RequestLink id={p.request} /> for <strong>{p.resource}</strong>,{' '}
          {fmtSeconds(p.seconds)} <span class="muted">— {p.reason}</span>
        </div>
      );
    }
    case 'access.approve':
    case 'access.deny': {
      const p = ev.payload;
      const approved = ev.kind === 'access.approve';
      return (
        <div class={`ti-line ${approved ? 'good' : 'bad'}`}>
          <span class="ti-kind">access review</span> {approved ? '✔ approved' : '✖ denied'} request{' '}
          <RequestLink id={p.request} /> of {p.requester} for {p.resource}
          {p.comment && <span class="muted"> — “{p.comment}”</span>}
          {p.until && <span class="muted"> · open until {fmtTime(p.until)}</span>}
        </div>
      );
    }
    case 'review.held': {
      const p = ev.payload;
      return (
        <div class="ti-line held" role="note" data-testid="review-held">
          <span class="badge badge-held">held</span> held for review by group {p.approvers.join(' or group ') || '?'}{' '}
          (guardrail {p.rule}, up to {fmtSeconds(p.timeout_seconds)}): <code class="held-text">{p.text}</code>
          <span class="muted small">
            {' '}
            · matched {p.reason} · request <RequestLink id={p.request} />
          </span>
        </div>
      );
    }
    case 'review.decided': {
      const p = ev.payload;
      const waited = fmtDuration(p.waited_ms);
      const comment = p.comment && <span>: “{p.comment}”</span>;
      const line =
        p.verdict === 'allowed' ? (
          <>
            <strong>✔ allowed</strong>
            {p.by && <> by {p.by}</>} after {waited}
            {comment}
          </>
        ) : p.verdict === 'rejected' ? (
          <>
            <strong>✖ rejected</strong>
            {p.by && <> by {p.by}</>}
            {comment}
          </>
        ) : p.verdict === 'timed out' ? (
          <>
            <strong>✖ no reviewer decided in time</strong> <span class="muted">(waited {waited})</span>
          </>
        ) : (
          <>
            <strong>{p.verdict}</strong>
            {p.by && <> by {p.by}</>}
            {comment}
          </>
        );
      return (
        <div
          class={`ti-line ${p.verdict === 'allowed' ? 'good' : 'bad denied'}`}
          role="note"
          data-testid="review-decided"
          data-verdict={p.verdict}
          title={`waited ${waited}`}
        >
          <span class="ti-kind">review</span> {line}
          <span class="muted small">
            {' '}
            · request <RequestLink id={p.request} />
          </span>
        </div>
      );
    }
    case 'session.end': {
      const p = ev.payload;
      return (
        <div class="ti-line">
          <span class="ti-kind">session end</span> outcome <strong>{p.outcome ?? '—'}</strong>
          <span class="muted">
            {' '}
            · ↑ {fmtBytes(p.bytes_up)} ↓ {fmtBytes(p.bytes_down)}
          </span>
        </div>
      );
    }
    case 'db.query': {
      const p = ev.payload;
      return (
        <div class="ti-query">
          <pre class="sql">{String(p.text ?? '')}</pre>
          {p.statement && <span class="muted small">prepared statement {String(p.statement)}</span>}
          {Array.isArray(p.params) && p.params.length > 0 && (
            <div class="params small">
              params:{' '}
              {p.params.map((v: unknown, i: number) => (
                <code key={i} class={isMasked(v) ? 'masked' : ''} data-masked={isMasked(v) ? 'true' : undefined}>
                  ${i + 1}={v === null ? 'NULL' : typeof v === 'string' ? v : JSON.stringify(v)}
                </code>
              ))}
            </div>
          )}
        </div>
      );
    }
    case 'db.result': {
      const p = ev.payload;
      const cols = Array.isArray(p.columns) ? p.columns : [];
      const rows = Array.isArray(p.rows) ? p.rows : [];
      const rc = typeof p.row_count === 'number' ? p.row_count : rows.length;
      const anyMasked = rows.some((r: unknown[]) => Array.isArray(r) && r.some(isMasked));
      return (
        <div class="ti-result">
          <div class="ti-line">
            <button
              type="button"
              class="btn btn-small toggle"
              aria-expanded={expanded}
              onClick={onToggle}
              data-testid="result-toggle"
            >
              {expanded ? '▾ Hide rows' : '▸ Show rows'}
            </button>{' '}
            <strong>
              {rc.toLocaleString()} row{rc === 1 ? '' : 's'}
            </strong>
            {p.tag && <span class="muted"> · {p.tag}</span>}
            {p.duration_us != null && <span class="dur"> · {fmtUs(p.duration_us)}</span>}
            {p.truncated && (
              <span class="chip chip-warn" title="Ward recorded only the first rows of this result">
                truncated: {rows.length.toLocaleString()} of {rc.toLocaleString()} rows recorded
              </span>
            )}
            {anyMasked && (
              <span class="chip chip-masked">
                <LockIcon /> contains masked values
              </span>
            )}
          </div>
          {expanded &&
            (rows.length ? (
              <ResultTable columns={cols} rows={rows} page={page} onPage={onPage} protocol={protocol} />
            ) : (
              <div class="muted small">No rows recorded.</div>
            ))}
        </div>
      );
    }
    case 'db.complete': {
      const p = ev.payload;
      return (
        <div class="ti-line">
          <span class="ok">✔ {p.tag ?? 'complete'}</span>
          {p.duration_us != null && <span class="dur"> · {fmtUs(p.duration_us)}</span>}
        </div>
      );
    }
    case 'db.error': {
      const p = ev.payload;
      // MySQL's error number, with the SQLSTATE after it as MySQL clients show them: ERROR 1146 (42S02).
      const number = typeof p.error_code === 'number' ? p.error_code : null;
      const code = number != null ? ` ${number}${p.code ? ` (${p.code})` : ''}` : p.code ? ` ${p.code}` : '';
      return (
        <div class="ti-line bad" role="note" data-testid="db-error">
          <strong>
            {p.severity ?? 'ERROR'}
            {code}:
          </strong>{' '}
          {p.message}
          {p.detail && <div class="small">Detail: {p.detail}</div>}
          {p.hint && <div class="small">Hint: {p.hint}</div>}
        </div>
      );
    }
    case 'session.error': {
      const p = ev.payload;
      return (
        <div class="ti-line bad" role="note">
          <strong>{p.severity || 'ERROR'}:</strong> {p.message}
        </div>
      );
    }
    case 'session.terminated': {
      const p = ev.payload;
      return (
        <div class="ti-line bad" role="note">
          <strong>✖ Session ended by {p.by}:</strong> {p.reason}
        </div>
      );
    }
    case 'policy.denied': {
      const p = ev.payload;
      return (
        <div class="ti-line bad denied" role="note">
          <strong>✖ Denied by guardrail {p.rule ? `“${p.rule}”` : ''}</strong>
          {p.reason && <span> — {p.reason}</span>}
          {p.message && <div class="small">Client was told: {p.message}</div>}
        </div>
      );
    }
    case 'mask.applied': {
      const p = ev.payload;
      const rules = Object.entries((p.rules ?? {}) as Record<string, number>)
        .map(([r, n]) => `${r} (${n})`)
        .join(', ');
      return (
        <div class="ti-line muted small">
          <LockIcon /> masking applied to #{p.event_seq}: {rules}
        </div>
      );
    }
    case 'agent.note': {
      const p = ev.payload;
      return (
        <div class="note-bubble" role="note" data-testid="agent-note">
          <span class="note-label">agent note</span>
          <div class="note-text">{String(p.text ?? '')}</div>
        </div>
      );
    }
    case 'db.notice': {
      const p = ev.payload;
      return (
        <div class="ti-line small">
          <span class="ti-kind">notice</span> {p.severity ? `${p.severity}: ` : ''}
          {p.message ?? compact(p)}
        </div>
      );
    }
    case 'db.notification': {
      const p = ev.payload;
      return (
        <div class="ti-line small">
          <span class="ti-kind">notify</span> {p.channel ? <code>{p.channel}</code> : null} {p.payload ?? compact(p)}
        </div>
      );
    }
    case 'db.copy': {
      const p = ev.payload;
      return (
        <div class="ti-line small">
          <span class="ti-kind">copy {p.direction ?? ''}</span> {fmtBytes(p.bytes)}
          {p.data != null && <code class="copy-data">{String(p.data).slice(0, 200)}</code>}
        </div>
      );
    }
    case 'db.cancel': {
      return (
        <div class="ti-line small">
          <span class="ti-kind">cancel</span> query cancellation requested from {ev.payload.from}
        </div>
      );
    }
    default:
      return (
        <div class="ti-line small">
          <span class="ti-kind">{ev.kind}</span> <code>{compact(ev.payload)}</code>
        </div>
      );
  }
}

function compact(p: unknown): string {
  try {
    const s = JSON.stringify(p);
    return s.length > 300 ? s.slice(0, 300) + '…' : s;
  } catch {
    return String(p);
  }
}
