import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, Session, WardEvent } from '../api';

const PAGE = 200;
const LIVE_POLL_MS = 3000;

export interface EventPages {
  /** The events read so far, in order (pages are appended; nothing is read twice). */
  events: WardEvent[];
  /** Where the next page starts; `null` at the end of what is recorded (so far, when live). */
  nextAfter: number | null;
  loading: boolean;
  error: string | null;
  /** The seq of the last event read; -1 before the first. */
  lastSeq: number;
  /** Reads the page after `after` (one page at a time: a call while one is read does nothing). */
  loadMore: (after: number) => void;
}

/**
 * A session's events, a page at a time, for the timelines: the first page at once, more when
 * the view asks (it scrolls towards the end), enough to show `focusSeq` (a `?seq=` deep link)
 * with rows after it, and, for a live session at the end, new events every few seconds.
 */
export function useEventPages(session: Session, focusSeq?: number | null): EventPages {
  const [events, setEvents] = useState<WardEvent[]>([]);
  // The first page is the one after -1: the session's first event (`session.start`) is seq 0.
  const [nextAfter, setNextAfter] = useState<number | null>(-1);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const loadingRef = useRef(false);
  const lastSeq = events.length ? events[events.length - 1].seq : -1;

  const loadMore = useCallback(
    async (after: number) => {
      if (loadingRef.current) return;
      loadingRef.current = true;
      setLoading(true);
      try {
        const r = await api.events(session.id, after, PAGE);
        setEvents((prev) => {
          const last = prev.length ? prev[prev.length - 1].seq : -1;
          const fresh = r.events.filter((e) => e.seq > last);
          return fresh.length ? prev.concat(fresh) : prev;
        });
        setNextAfter(r.next_after_seq ?? null);
        setError(null);
      } catch (e) {
        setError((e as ApiError).message);
      } finally {
        loadingRef.current = false;
        setLoading(false);
      }
    },
    [session.id],
  );

  useEffect(() => {
    loadMore(-1);
  }, [loadMore]);

  // Deep link to an event (?seq=N, e.g. from a search match): fetch pages until it is loaded.
  useEffect(() => {
    if (focusSeq == null || loading || error) return;
    if (lastSeq < focusSeq + 100 && nextAfter != null) loadMore(nextAfter);
  }, [focusSeq, lastSeq, nextAfter, loading, error]);

  // Live session: once at the end, poll for new events.
  useEffect(() => {
    if (!session.live || nextAfter != null || error) return;
    const t = setInterval(() => loadMore(lastSeq), LIVE_POLL_MS);
    return () => clearInterval(t);
  }, [session.live, nextAfter, lastSeq, error]);

  return { events, nextAfter, loading, error, lastSeq, loadMore };
}

/** The foot of a timeline: loading, an error with Retry, "Load more events", or the end. */
export function TimelineFoot({ pages, session, count }: { pages: EventPages; session: Session; count: number }) {
  const { loading, error, nextAfter, lastSeq, loadMore } = pages;
  return (
    <div class="timeline-foot" aria-live="polite">
      {loading && 'Loading events…'}
      {!loading && error && (
        <span class="err">
          {error}{' '}
          <button type="button" class="btn btn-small" onClick={() => loadMore(nextAfter ?? lastSeq)}>
            Retry
          </button>
        </span>
      )}
      {!loading && !error && nextAfter != null && (
        <button type="button" class="btn btn-small" onClick={() => loadMore(nextAfter)}>
          Load more events
        </button>
      )}
      {!loading && !error && nextAfter == null && (
        <span class="muted">
          {session.live ? 'Live — waiting for new events…' : `End of recording · ${count.toLocaleString()} events`}
        </span>
      )}
    </div>
  );
}
