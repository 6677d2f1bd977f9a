import { FunctionComponent } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, Me, Session, SessionDetail } from '../api';
import { Loc, linkClick } from '../router';
import { durationMs, fmtBytes, fmtDuration, fmtTime } from '../format';
import { IntegrityBadge, OutcomeBadge, PageStatus } from '../components/Bits';
import { DbTimeline } from '../components/DbTimeline';
import { HttpTimeline } from '../components/HttpTimeline';
import { activityAnchor, activityUrl } from './Activity';

/**
 * Recording views: the first applicable one is shown, others are tabs. Database sessions
 * (PostgreSQL and MySQL clients, AI agents over MCP) get the database timeline: statements with
 * their results, completions and errors. SSH sessions get the terminal player (asciicast export;
 * a live session followed as it happens) plus the raw event timeline as a second tab; HTTP
 * sessions get their requests (HttpTimeline), plus the raw event timeline; other sessions (a
 * sign-in to this UI) the event timeline alone. A view that follows a live session calls `onEnded` when it sees the session end, and
 * the page reads the session again.
 */
interface ViewProps {
  session: Session;
  focusSeq?: number | null;
  onEnded?: () => void;
}
interface RecordingView {
  id: string;
  label: string;
  applies: (s: Session) => boolean;
  component: FunctionComponent<ViewProps>;
}

/** The terminal player pulls in xterm.js (~330 kB): load it only when an ssh session is opened. */
function TerminalView({ session, onEnded }: ViewProps) {
  const [Player, setPlayer] = useState<FunctionComponent<{ session: Session; onEnded?: () => void }> | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    import('../components/TerminalPlayer').then(
      (m) => !cancelled && setPlayer(() => m.TerminalPlayer),
      (e: Error) => !cancelled && setFailed(e.message),
    );
    return () => {
      cancelled = true;
    };
  }, []);
  if (failed)
    return (
      <div class="banner banner-error" role="alert">
        Could not load the terminal player: {failed}
      </div>
    );
  return Player ? <Player session={session} onEnded={onEnded} /> : <p class="muted">Loading player…</p>;
}

/** The protocols whose sessions are statements and results. */
const DATABASE_PROTOCOLS = new Set(['postgres', 'mysql', 'mcp']);

const VIEWS: RecordingView[] = [
  { id: 'term', label: 'Terminal', applies: (s) => s.protocol === 'ssh', component: TerminalView },
  { id: 'http', label: 'HTTP timeline', applies: (s) => s.protocol === 'http', component: HttpTimeline },
  {
    id: 'db',
    label: 'Database timeline',
    applies: (s) => DATABASE_PROTOCOLS.has(s.protocol),
    component: DbTimeline,
  },
  {
    id: 'events',
    label: 'Event timeline',
    applies: (s) => !DATABASE_PROTOCOLS.has(s.protocol),
    component: DbTimeline,
  },
];

/** RFC 3339 an hour before `iso` (or `24h` when it cannot be read). */
function hourBefore(iso: string): string {
  const t = Date.parse(iso);
  return isNaN(t) ? '24h' : new Date(t - 3600_000).toISOString();
}

/** An auditor ends a live session; its client is told the reason. */
function TerminateButton({ session, onDone }: { session: Session; onDone: () => void }) {
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  if (!asking)
    return (
      <button class="btn btn-danger" data-testid="terminate" onClick={() => setAsking(true)}>
        ✖ Terminate
      </button>
    );
  const submit = (e: Event) => {
    e.preventDefault();
    setError(null);
    api.terminate(session.id, reason).then(
      () => {
        setAsking(false);
        onDone();
      },
      (err: ApiError) => setError(err.message),
    );
  };
  return (
    <form class="terminate" onSubmit={submit} data-testid="terminate-form">
      <label>
        Reason (told to {session.user}'s client, and recorded)
        <input
          data-testid="terminate-reason"
          value={reason}
          required
          onInput={(e) => setReason((e.target as HTMLInputElement).value)}
        />
      </label>
      <button class="btn btn-danger" type="submit" data-testid="terminate-confirm">
        End the session
      </button>
      <button class="btn" type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
      {error && (
        <div class="banner banner-error" role="alert">
          {error}
        </div>
      )}
    </form>
  );
}

export function SessionDetailPage({ id, loc, me }: { id: string; loc: Loc; me: Me }) {
  const [detail, setDetail] = useState<SessionDetail | null>(null);
  const [error, setError] = useState<{ status: number; message: string } | null>(null);
  const seqParam = loc.query.get('seq');
  const focusSeq = seqParam && /^\d+$/.test(seqParam) ? Number(seqParam) : null;
  const [viewId, setViewId] = useState<string | null>(null);
  // Bumped to read the session again (after asking Ward to end it, or when a followed session ended).
  const [reads, setReads] = useState(0);
  const shown = useRef<string | null>(null); // the id whose detail is shown

  useEffect(() => {
    let cancelled = false;
    // Reading the same session again (it ended) keeps the page, and its player, as they are.
    if (shown.current !== id) setDetail(null);
    setError(null);
    api
      .session(id)
      .then((d) => {
        if (cancelled) return;
        shown.current = id;
        setDetail(d);
      })
      .catch((e: ApiError) => {
        if (cancelled) return;
        shown.current = null;
        const message =
          e.status === 403
            ? 'You may not view this session: it is not allowed for your account.'
            : e.status === 404
              ? 'Session not found, or you are not allowed to view it. It may have been pruned or the link is wrong.'
              : e.message;
        setError({ status: e.status, message });
      });
    return () => {
      cancelled = true;
    };
  }, [id, reads]);

  const back = (
    <a href="/sessions" onClick={linkClick} class="back">
      ← All sessions
    </a>
  );

  if (error || !detail) {
    return (
      <PageStatus back={back} error={error} loading="Loading session…" loaded={!!detail} />
    );
  }

  const s = detail.session;
  const views = VIEWS.filter((v) => v.applies(s));
  const view = views.find((v) => v.id === viewId) ?? views[0] ?? VIEWS[0];
  const View = view.component;

  return (
    <section class="page detail" data-testid="session-detail" data-session-id={s.id} aria-labelledby="detail-title">
      {back}
      <div class="detail-head">
        <div>
          <h1 id="detail-title">
            {s.user} → {s.resource} <OutcomeBadge outcome={s.outcome} live={s.live} />
          </h1>
          <div class="muted small mono">{s.id}</div>
          {(me.auditor || s.user === me.user) && (
            // The person's timeline from an hour before this session (when an assistant may have
            // proposed what ran in it), at its start.
            <a
              class="small"
              href={activityUrl(s.user, hourBefore(s.started_at), me, activityAnchor(s.id, 0))}
              onClick={linkClick}
              data-testid="session-activity"
            >
              Activity of {s.user}
            </a>
          )}
        </div>
        <div class="detail-actions">
          <IntegrityBadge integrity={detail.integrity} />
          {me.auditor && s.live && (
            // The Ward serving the session ends it within a second.
            <TerminateButton session={s} onDone={() => setTimeout(() => setReads((n) => n + 1), 1500)} />
          )}
          <a class="btn" href={api.exportUrl(s.id)} download={`ward-session-${s.id}.json`} data-testid="export">
            ⬇ Export bundle
          </a>
        </div>
      </div>
      <dl class="facts">
        <div>
          <dt>User</dt>
          <dd>{s.user}</dd>
        </div>
        <div>
          <dt>Groups</dt>
          <dd>{s.groups.length ? s.groups.join(', ') : '—'}</dd>
        </div>
        <div>
          <dt>Resource</dt>
          <dd>{s.resource}</dd>
        </div>
        <div>
          <dt>Protocol</dt>
          <dd>{s.protocol}</dd>
        </div>
        <div>
          <dt>Client</dt>
          <dd class="mono">{s.client_addr}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd title={s.started_at}>{fmtTime(s.started_at)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd title={s.ended_at ?? 'still running'}>
            {fmtDuration(durationMs(s.started_at, s.ended_at ?? null))}
            {s.live ? ' (running)' : ''}
          </dd>
        </div>
        <div>
          <dt>Outcome</dt>
          <dd>{s.live ? 'live' : (s.outcome ?? '—')}</dd>
        </div>
        <div>
          <dt>Bytes ↑ / ↓</dt>
          <dd>
            {fmtBytes(detail.bytes_up)} / {fmtBytes(detail.bytes_down)}
          </dd>
        </div>
        <div>
          <dt>Events</dt>
          <dd>{s.event_count.toLocaleString()}</dd>
        </div>
      </dl>

      {views.length > 1 && (
        <div class="tabs" role="tablist">
          {views.map((v) => (
            <button
              key={v.id}
              type="button"
              role="tab"
              aria-selected={v.id === view.id}
              class={v.id === view.id ? 'tab active' : 'tab'}
              onClick={() => setViewId(v.id)}
            >
              {v.label}
            </button>
          ))}
        </div>
      )}
      <h2 class="view-title" data-testid="view-title" data-view={view.id}>
        {view.label}
      </h2>
      <View key={s.id} session={s} focusSeq={focusSeq} onEnded={() => setReads((n) => n + 1)} />
    </section>
  );
}
