import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, Me, Session } from '../api';
import { Loc, navigate } from '../router';
import { durationMs, fmtDuration, fmtTime, localToRfc3339, rfc3339ToLocal } from '../format';
import { MatchList, OutcomeBadge } from '../components/Bits';

const FILTER_KEYS = ['q', 'user', 'resource', 'protocol', 'outcome', 'since', 'until'] as const;
type FilterKey = (typeof FILTER_KEYS)[number];
type Filters = Record<FilterKey, string>;
type SortKey = 'started' | 'user' | 'resource' | 'duration';

function filtersFrom(q: URLSearchParams): Filters {
  const f = {} as Filters;
  for (const k of FILTER_KEYS) f[k] = q.get(k) ?? '';
  return f;
}

function urlFor(f: Filters, sort: SortKey, dir: 'asc' | 'desc'): string {
  const qs = new URLSearchParams();
  for (const k of FILTER_KEYS) if (f[k]) qs.set(k, f[k]);
  if (sort !== 'started' || dir !== 'desc') {
    qs.set('sort', sort);
    qs.set('dir', dir);
  }
  const s = qs.toString();
  return s ? `/sessions?${s}` : '/sessions';
}

const PAGE = 50;

export function SessionListPage({ loc, me }: { loc: Loc; me: Me }) {
  const filters = useMemo(() => filtersFrom(loc.query), [loc.search]);
  const sort = (['started', 'user', 'resource', 'duration'].includes(loc.query.get('sort') ?? '')
    ? loc.query.get('sort')
    : 'started') as SortKey;
  const dir = loc.query.get('dir') === 'asc' ? 'asc' : 'desc';

  const [draft, setDraft] = useState<Filters>(filters);
  const [sessions, setSessions] = useState<Session[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const reqId = useRef(0);

  // Query key ignores sorting (sorting is client-side over loaded rows).
  const queryKey = FILTER_KEYS.map((k) => `${k}=${filters[k]}`).join('&');

  useEffect(() => {
    setDraft(filters);
    const id = ++reqId.current;
    setLoading(true);
    setError(null);
    setSessions([]);
    setCursor(null);
    api
      .sessions({ ...filters, limit: String(PAGE) })
      .then((r) => {
        if (id !== reqId.current) return;
        setSessions(r.sessions);
        setCursor(r.next_cursor ?? null);
      })
      .catch((e: ApiError) => id === reqId.current && setError(e.message))
      .finally(() => id === reqId.current && setLoading(false));
  }, [queryKey]);

  const loadMore = () => {
    if (!cursor || loading) return;
    const id = ++reqId.current;
    setLoading(true);
    api
      .sessions({ ...filters, limit: String(PAGE), cursor })
      .then((r) => {
        if (id !== reqId.current) return;
        setSessions((prev) => {
          const seen = new Set(prev.map((s) => s.id));
          return prev.concat(r.sessions.filter((s) => !seen.has(s.id)));
        });
        setCursor(r.next_cursor ?? null);
      })
      .catch((e: ApiError) => id === reqId.current && setError(e.message))
      .finally(() => id === reqId.current && setLoading(false));
  };

  const sorted = useMemo(() => {
    const arr = sessions.slice();
    const mul = dir === 'asc' ? 1 : -1;
    const val = (s: Session): string | number => {
      switch (sort) {
        case 'user':
          return s.user.toLowerCase();
        case 'resource':
          return s.resource.toLowerCase();
        case 'duration':
          return durationMs(s.started_at, s.ended_at ?? null);
        default:
          return Date.parse(s.started_at) || 0;
      }
    };
    arr.sort((a, b) => {
      const va = val(a);
      const vb = val(b);
      if (va < vb) return -mul;
      if (va > vb) return mul;
      return (Date.parse(b.started_at) || 0) - (Date.parse(a.started_at) || 0);
    });
    return arr;
  }, [sessions, sort, dir]);

  const apply = (e?: Event) => {
    e?.preventDefault();
    navigate(urlFor(draft, sort, dir));
  };
  const clear = () => navigate(urlFor({ ...emptyFilters() }, sort, dir));
  const setSort = (k: SortKey) => {
    const nd = sort === k ? (dir === 'asc' ? 'desc' : 'asc') : k === 'started' || k === 'duration' ? 'desc' : 'asc';
    navigate(urlFor(filters, k, nd), true);
  };
  const upd = (k: FilterKey) => (e: Event) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value });
  const open = (s: Session, seq?: number) =>
    navigate(`/sessions/${encodeURIComponent(s.id)}${seq != null ? `?seq=${seq}` : ''}`);

  const th = (k: SortKey, label: string) => (
    <th aria-sort={sort === k ? (dir === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button type="button" class="sort" onClick={() => setSort(k)} data-testid={`sort-${k}`}>
        {label} <span aria-hidden="true">{sort === k ? (dir === 'asc' ? '▲' : '▼') : '↕'}</span>
      </button>
    </th>
  );

  const active = FILTER_KEYS.some((k) => filters[k]);

  return (
    <section class="page" aria-labelledby="sessions-title">
      <div class="page-head">
        <h1 id="sessions-title">Sessions</h1>
        <span class="muted">{me.auditor ? 'All recorded sessions' : 'Your recorded sessions'}</span>
      </div>
      <form class="filters" onSubmit={apply} role="search" aria-label="Filter sessions">
        <div class="searchbar">
          <input
            type="search"
            data-testid="search-input"
            aria-label="Search recorded statements"
            placeholder="Search statements (e.g. DELETE FROM orders)…"
            value={draft.q}
            onInput={upd('q')}
          />
          <button class="btn btn-primary" type="submit" data-testid="search-submit">
            Search
          </button>
        </div>
        <div class="filter-row">
          <label>
            User
            <input data-testid="filter-user" value={draft.user} onInput={upd('user')} placeholder="any" />
          </label>
          <label>
            Resource
            <input data-testid="filter-resource" value={draft.resource} onInput={upd('resource')} placeholder="any" />
          </label>
          <label>
            Protocol
            <select data-testid="filter-protocol" value={draft.protocol} onChange={upd('protocol')}>
              <option value="">any</option>
              <option value="postgres">postgres</option>
              <option value="mysql">mysql</option>
              <option value="ssh">ssh</option>
              <option value="http">http</option>
            </select>
          </label>
          <label>
            Outcome
            <select data-testid="filter-outcome" value={draft.outcome} onChange={upd('outcome')}>
              <option value="">any</option>
              <option value="ok">ok</option>
              <option value="denied">denied</option>
              <option value="error">error</option>
              <option value="incomplete">incomplete</option>
              <option value="terminated">terminated</option>
            </select>
          </label>
          <label>
            Since
            <input
              type="datetime-local"
              data-testid="filter-since"
              value={rfc3339ToLocal(draft.since)}
              onInput={(e) => setDraft({ ...draft, since: localToRfc3339((e.target as HTMLInputElement).value) })}
            />
          </label>
          <label>
            Until
            <input
              type="datetime-local"
              data-testid="filter-until"
              value={rfc3339ToLocal(draft.until)}
              onInput={(e) => setDraft({ ...draft, until: localToRfc3339((e.target as HTMLInputElement).value) })}
            />
          </label>
          <div class="filter-actions">
            <button class="btn" type="submit">
              Apply
            </button>
            {active && (
              <button class="btn btn-link" type="button" onClick={clear}>
                Clear
              </button>
            )}
          </div>
        </div>
      </form>

      {error && (
        <div class="banner banner-error" role="alert" data-testid="error-banner">
          {error}
        </div>
      )}

      <table class="sessions" data-testid="session-table" aria-busy={loading}>
        <thead>
          <tr>
            {th('started', 'Started')}
            {th('user', 'User')}
            {th('resource', 'Resource')}
            <th>Protocol</th>
            {th('duration', 'Duration')}
            <th>Events</th>
            <th>Outcome</th>
          </tr>
        </thead>
        {sorted.map((s) => (
          <tbody
            key={s.id}
            class={`session ${s.live ? 'is-live' : ''}`}
            data-testid="session-row"
            data-session-id={s.id}
            data-user={s.user}
            data-protocol={s.protocol}
            data-live={String(s.live)}
            onClick={(e) => {
              if ((e.target as HTMLElement).closest('a')) return;
              open(s);
            }}
          >
            <tr>
              <td>
                <a
                  href={`/sessions/${encodeURIComponent(s.id)}`}
                  onClick={(e) => {
                    if (e.button !== 0 || e.metaKey || e.ctrlKey) return;
                    e.preventDefault();
                    open(s);
                  }}
                  title={s.started_at}
                >
                  {fmtTime(s.started_at)}
                </a>
              </td>
              <td data-testid="session-user">
                {s.user}
                {s.groups.length > 0 && <span class="muted small"> ({s.groups.join(', ')})</span>}
              </td>
              <td>{s.resource}</td>
              <td>{s.protocol}</td>
              <td>{fmtDuration(durationMs(s.started_at, s.ended_at ?? null))}</td>
              <td class="num">{s.event_count.toLocaleString()}</td>
              <td>
                <OutcomeBadge outcome={s.outcome} live={s.live} />
              </td>
            </tr>
            {s.matches && s.matches.length > 0 && (
              <tr class="match-row">
                <td colSpan={7} data-testid="session-matches">
                  <MatchList session={s} matches={s.matches} onOpen={(seq) => open(s, seq)} />
                </td>
              </tr>
            )}
          </tbody>
        ))}
      </table>
      {!loading && !error && sessions.length === 0 && (
        <p class="empty" data-testid="empty">
          {active ? 'No sessions match these filters.' : 'No sessions recorded yet.'}
        </p>
      )}
      <div class="list-foot">
        {loading && <span aria-live="polite">Loading…</span>}
        {!loading && cursor && (
          <button class="btn" type="button" onClick={loadMore} data-testid="load-more">
            Load more
          </button>
        )}
        {sessions.length > 0 && (
          <span class="muted small">
            {sessions.length} session{sessions.length === 1 ? '' : 's'} loaded
            {sort !== 'started' && cursor ? ' · sorting applies to loaded sessions only' : ''}
          </span>
        )}
      </div>
    </section>
  );
}

function emptyFilters(): Filters {
  const f = {} as Filters;
  for (const k of FILTER_KEYS) f[k] = '';
  return f;
}
