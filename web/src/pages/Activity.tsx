import { ComponentChildren, Fragment } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Activity, ActivityItem, api, ApiError, Me, Proposal } from '../api';
import { Loc, linkClick, navigate } from '../router';
import { fmtClock, fmtDay, fmtTime, MASKED_RE } from '../format';
import { LockIcon } from '../components/Bits';

/** The windows offered; the URL may also hold another duration or an RFC 3339 time. */
const SINCE = ['1h', '24h', '7d', '30d'];
const DEFAULT_SINCE = '24h';
/** Items put on the page at first, and with each "Show more". */
const STEP = 500;

/** The page's id of an item: proposing links and `#act-…` in the URL point at it. */
export function activityAnchor(session: string, seq: number): string {
  return `act-${session}-${seq}`;
}

/** `/activity` for `user` (left out when it is the viewer) since `since`. */
export function activityUrl(user: string, since: string, me: Me, anchor?: string): string {
  const qs = new URLSearchParams();
  if (user && user !== me.user) qs.set('user', user);
  if (since && since !== DEFAULT_SINCE) qs.set('since', since);
  const s = qs.toString();
  return `/activity${s ? `?${s}` : ''}${anchor ? `#${anchor}` : ''}`;
}

function sessionHref(session: string, seq: number): string {
  return `/sessions/${encodeURIComponent(session)}?seq=${seq}`;
}

/** The anchor in the URL's fragment, if it names an item. */
function anchorInUrl(): string | null {
  const h = decodeURIComponent(location.hash.slice(1));
  return h.startsWith('act-') ? h : null;
}

function sinceLabel(since: string): string {
  if (SINCE.includes(since) || /^\d+\s*(ms|s|m|h|d)$/.test(since)) return `last ${since}`;
  return `since ${fmtTime(since)}`;
}

/**
 * A person's activity across all their sessions (`/activity?user=&since=`): one list in time
 * order, grouped by day. AI prompts and answers read as a conversation, an answer's proposals as
 * code; a statement or command that ran as an assistant proposed it links to that answer on the
 * page. Each item links to its session at that event. People see their own; an auditor picks
 * anyone.
 */
export function ActivityPage({ loc, me }: { loc: Loc; me: Me }) {
  const user = loc.query.get('user') || me.user;
  const since = loc.query.get('since') || DEFAULT_SINCE;

  const [draftUser, setDraftUser] = useState(user);
  const [data, setData] = useState<Activity | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [limit, setLimit] = useState(STEP);
  // The item to show highlighted, and a count bumped to scroll to it (again).
  const [focus, setFocus] = useState<string | null>(anchorInUrl);
  const [jumps, setJumps] = useState(0);
  const scrolled = useRef(0); // the jump last scrolled to
  const reqId = useRef(0);

  useEffect(() => {
    setDraftUser(user);
    const id = ++reqId.current;
    setLoading(true);
    setError(null);
    setData(null);
    setLimit(STEP);
    api
      .activity(user, since)
      .then((a) => {
        if (id !== reqId.current) return;
        setData(a);
        // The URL may point at an item (the session page's "Activity of" link does).
        const at = anchorInUrl();
        setFocus(at);
        if (at) setJumps((n) => n + 1);
      })
      .catch((e: ApiError) => {
        if (id !== reqId.current) return;
        setError(
          e.status === 403 ? `You may see only your own activity (${me.user}); auditors see anyone's.` : e.message,
        );
      })
      .finally(() => id === reqId.current && setLoading(false));
  }, [user, since]);

  const items = data?.items ?? [];
  const index = useMemo(() => {
    const m = new Map<string, number>();
    items.forEach((it, i) => m.set(activityAnchor(it.session, it.seq), i));
    return m;
  }, [items]);

  // Scroll to the focused item once it is on the page (once per jump).
  useEffect(() => {
    if (!focus || !jumps || scrolled.current === jumps) return;
    const i = index.get(focus);
    if (i == null) return;
    if (i >= limit) {
      setLimit(i + STEP);
      return;
    }
    const el = document.getElementById(focus);
    if (!el) return;
    scrolled.current = jumps;
    const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    el.scrollIntoView({ block: 'center', behavior: smooth ? 'smooth' : 'auto' });
    el.focus({ preventScroll: true });
  }, [focus, jumps, index, limit]);

  /** Highlights the item of a proposal and scrolls to it; the URL's fragment names it. */
  const jump = (anchor: string) => {
    setFocus(anchor);
    setJumps((n) => n + 1);
    history.replaceState(null, '', `${location.pathname}${location.search}#${anchor}`);
  };

  const apply = (e?: Event) => {
    e?.preventDefault();
    navigate(activityUrl(draftUser.trim() || me.user, since, me));
  };

  const sessions = useMemo(() => new Set(items.map((i) => i.session)).size, [items]);
  const linked = useMemo(() => items.filter((i) => i.proposed_by).length, [items]);
  const shown = items.slice(0, limit);

  return (
    <section class="page" aria-labelledby="activity-title">
      <div class="page-head">
        <h1 id="activity-title">Activity</h1>
        <span class="muted">
          {user === me.user ? 'Your' : `${user}'s`} steps across all sessions, oldest first: what was asked of an
          assistant, what it proposed, and what ran
        </span>
      </div>

      <form class="filters" onSubmit={apply} role="search" aria-label="Whose activity" data-testid="activity-filters">
        <div class="filter-row">
          {me.auditor && (
            <label>
              User
              <input
                data-testid="activity-user"
                value={draftUser}
                required
                placeholder={me.user}
                onInput={(e) => setDraftUser((e.target as HTMLInputElement).value)}
              />
            </label>
          )}
          <label>
            Since
            <select
              data-testid="activity-since"
              value={since}
              onChange={(e) =>
                navigate(activityUrl(draftUser.trim() || me.user, (e.target as HTMLSelectElement).value, me))
              }
            >
              {SINCE.map((s) => (
                <option key={s} value={s}>
                  last {s}
                </option>
              ))}
              {!SINCE.includes(since) && <option value={since}>{sinceLabel(since)}</option>}
            </select>
          </label>
          {me.auditor && (
            <div class="filter-actions">
              <button class="btn btn-primary" type="submit" data-testid="activity-apply">
                Show
              </button>
            </div>
          )}
        </div>
      </form>

      {error && (
        <div class="banner banner-error" role="alert" data-testid="error-banner">
          {error}
        </div>
      )}

      {data && (
        <div class="timeline-legend muted small" data-testid="activity-legend">
          {items.length.toLocaleString()} steps in {sessions.toLocaleString()} session{sessions === 1 ? '' : 's'} of{' '}
          {data.user} since {fmtTime(data.since)}
          {linked > 0 && ` · ${linked} ran as an assistant proposed`}
        </div>
      )}

      <ol class="activity" data-testid="activity-list" aria-busy={loading} aria-label={`Activity of ${user}`}>
        {shown.map((it, i) => {
          const day = fmtDay(it.at);
          const anchor = activityAnchor(it.session, it.seq);
          return (
            <Fragment key={anchor}>
              {(i === 0 || fmtDay(shown[i - 1].at) !== day) && (
                <li class="act-day" data-testid="activity-day" aria-hidden="true">
                  {day}
                </li>
              )}
              <ActivityRow
                item={it}
                user={data?.user ?? user}
                anchor={anchor}
                focused={focus === anchor}
                proposer={it.proposed_by ? index.has(activityAnchor(it.proposed_by.session, it.proposed_by.seq)) : false}
                onJump={jump}
              />
            </Fragment>
          );
        })}
      </ol>
      {!loading && !error && items.length === 0 && (
        <p class="empty" data-testid="empty">
          No activity of {user} {sinceLabel(since)}.
        </p>
      )}
      <div class="list-foot">
        {loading && <span aria-live="polite">Loading…</span>}
        {items.length > limit && (
          <button type="button" class="btn" data-testid="activity-more" onClick={() => setLimit((n) => n + STEP)}>
            Show {Math.min(STEP, items.length - limit).toLocaleString()} more (of {(items.length - limit).toLocaleString()})
          </button>
        )}
      </div>
    </section>
  );
}

function kindClass(kind: string): string {
  return kind.replace(/[^a-z0-9]+/gi, '-');
}

function ActivityRow({
  item,
  user,
  anchor,
  focused,
  proposer,
  onJump,
}: {
  item: ActivityItem;
  user: string;
  anchor: string;
  focused: boolean;
  /** Whether the proposing answer is on the page. */
  proposer: boolean;
  onJump: (anchor: string) => void;
}) {
  const cls = ['act', `act-${kindClass(item.kind)}`, focused ? 'act-focus' : ''].join(' ');
  return (
    <li
      id={anchor}
      class={cls}
      tabIndex={-1}
      data-testid="activity-item"
      data-kind={item.kind}
      data-session={item.session}
      data-seq={item.seq}
      data-resource={item.resource}
      data-highlighted={focused ? 'true' : undefined}
    >
      <div class="act-meta">
        <a
          class="act-time"
          href={sessionHref(item.session, item.seq)}
          onClick={linkClick}
          data-testid="activity-session-link"
          title={`${fmtTime(item.at)}: open session ${item.session} at event #${item.seq}`}
        >
          <time dateTime={item.at}>{fmtClock(item.at)}</time>
        </a>
        <span class="act-where">
          <span class="act-resource" data-testid="activity-resource">
            {item.resource}
          </span>
          <span class={`badge badge-proto badge-proto-${kindClass(item.protocol)}`} data-testid="activity-protocol">
            {item.protocol}
          </span>
        </span>
      </div>
      <div class="act-body">
        <ItemBody item={item} user={user} />
        {item.proposed_by && <ProposedBy by={item.proposed_by} onPage={proposer} onJump={onJump} />}
      </div>
    </li>
  );
}

/** `asked MODEL: TEXT` (a model's name may hold a colon, not one followed by a space). */
function splitPrompt(summary: string): { model: string; text: string } | null {
  const m = /^asked (.+?): ([\s\S]*)$/.exec(summary);
  return m ? { model: m[1], text: m[2] } : null;
}

/** `MODEL answered: TEXT; proposes NAME(ARGS)…` */
function splitAnswer(summary: string): { model: string; text: string; calls: string[] } | null {
  const m = /^(.+?) answered: ([\s\S]*)$/.exec(summary);
  if (!m) return null;
  const [text, ...calls] = m[2].split('; proposes ');
  return { model: m[1], text, calls };
}

const MASKED_ALL = new RegExp(MASKED_RE.source, 'g');

/** Text with what Ward masked in it marked (as text, never as HTML). */
function Masked({ text }: { text: string }) {
  const parts: ComponentChildren[] = [];
  let last = 0;
  for (const m of text.matchAll(MASKED_ALL)) {
    const at = m.index ?? 0;
    if (at > last) parts.push(text.slice(last, at));
    parts.push(
      <span key={at} class="masked-inline" data-testid="activity-masked" title="masked by Ward">
        <LockIcon />
        {m[0]}
      </span>,
    );
    last = at + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return <>{parts}</>;
}

/**
 * A chat message's text: its fenced code (one line in a summary: "```sql SELECT 1; ```", perhaps
 * cut before its closing fence) shown as code.
 */
function ChatText({ text }: { text: string }) {
  const parts = text.split('```');
  return (
    <>
      {parts.map((p, i) =>
        i % 2 === 0 ? (
          p && <Masked key={i} text={p} />
        ) : (
          <code key={i} class="chat-code">
            <Masked text={p.replace(/^[A-Za-z0-9_+-]+\s/, '').trim()} />
          </code>
        ),
      )}
    </>
  );
}

function ItemBody({ item, user }: { item: ActivityItem; user: string }) {
  const s = item.summary;
  switch (item.kind) {
    case 'ai.prompt': {
      const p = splitPrompt(s);
      return (
        <div class="chat chat-question" data-testid="activity-prompt">
          <div class="chat-label">
            {user} asked {p ? p.model : 'the assistant'}
          </div>
          <div class="chat-text" data-testid="activity-text">
            <ChatText text={p ? p.text : s} />
          </div>
        </div>
      );
    }
    case 'ai.completion': {
      const a = splitAnswer(s);
      const proposals = item.proposals ?? [];
      return (
        <div class="chat chat-answer" data-testid="activity-answer">
          <div class="chat-label">{a ? a.model : 'the assistant'} answered</div>
          {(a ? a.text : s) && (
            <div class="chat-text" data-testid="activity-text">
              <ChatText text={a ? a.text : s} />
            </div>
          )}
          {a && a.calls.length > 0 && (
            <div class="chat-calls small" data-testid="activity-tool-calls">
              {a.calls.map((c, i) => (
                <div key={i}>
                  tool call <code>{c}</code>
                </div>
              ))}
            </div>
          )}
          {proposals.length > 0 && (
            <div class="chat-proposals" data-testid="activity-proposals">
              <div class="chat-label">Proposes</div>
              {proposals.map((p, i) => (
                <pre key={i} class="sql proposal" data-testid="activity-proposal">
                  <Masked text={p} />
                </pre>
              ))}
            </div>
          )}
        </div>
      );
    }
    case 'db.query':
      return (
        <pre class="sql" data-testid="activity-text">
          <Masked text={s} />
        </pre>
      );
    case 'exec.command':
      return s.startsWith('$ ') ? (
        <pre class="sql act-cmd" data-testid="activity-text">
          <Masked text={s} />
        </pre>
      ) : (
        <div class="ti-line muted" data-testid="activity-text">
          {s}
        </div>
      );
    case 'term.input':
      return s.startsWith('typed: ') ? (
        <div class="act-typed">
          <span class="ti-kind">typed</span>
          <pre class="sql act-cmd" data-testid="activity-text">
            <Masked text={s.slice('typed: '.length)} />
          </pre>
        </div>
      ) : (
        <div class="ti-line muted" data-testid="activity-text">
          {s}
        </div>
      );
    case 'agent.note':
      return (
        <div class="note-bubble">
          <div class="note-label">Agent note</div>
          <div class="note-text" data-testid="activity-text">
            <Masked text={s.replace(/^note: /, '')} />
          </div>
        </div>
      );
    case 'policy.denied':
      return (
        <div class="ti-line denied" data-testid="activity-text">
          {s}
        </div>
      );
    case 'http.request':
      return (
        <code class="act-http" data-testid="activity-text">
          {s}
        </code>
      );
    case 'session.terminated':
      return (
        <div class="ti-line bad" data-testid="activity-text">
          {s}
        </div>
      );
    case 'session.start':
      return (
        <div class="ti-line muted" data-testid="activity-text">
          {s}
        </div>
      );
    default:
      return (
        <div class="ti-line" data-testid="activity-text">
          <span class="ti-kind">{item.kind}</span>
          {s}
        </div>
      );
  }
}

/**
 * "↳ proposed at 10:02:11 in the answer #3 (assistant)": the link highlights that answer on
 * this page, or opens its session at it when it is not here.
 */
function ProposedBy({ by, onPage, onJump }: { by: Proposal; onPage: boolean; onJump: (anchor: string) => void }) {
  const anchor = activityAnchor(by.session, by.seq);
  return (
    <div class="act-proposed small" data-testid="proposed-by" title={`Proposed as: ${by.text}`}>
      <span aria-hidden="true">↳ </span>proposed at{' '}
      <time dateTime={by.at} title={fmtTime(by.at)}>
        {fmtClock(by.at)}
      </time>{' '}
      in{' '}
      {onPage ? (
        <a
          href={`#${anchor}`}
          data-testid="proposed-by-link"
          data-target={anchor}
          onClick={(e) => {
            if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
            e.preventDefault();
            onJump(anchor);
          }}
        >
          the answer #{by.seq}
        </a>
      ) : (
        <a href={sessionHref(by.session, by.seq)} onClick={linkClick} data-testid="proposed-by-link">
          the answer #{by.seq}
        </a>
      )}{' '}
      ({by.resource})
    </div>
  );
}
