import { ComponentChildren } from 'preact';
import { Integrity, Match, Session, SnippetPart } from '../api';

/**
 * A detail page until it has loaded: its back link with the error banner, or with a loading
 * line. `null` once there is something to show.
 */
export function PageStatus({
  back: link,
  error,
  loading,
  loaded,
}: {
  back: ComponentChildren;
  error: { status: number; message: string } | null;
  loading: string;
  loaded: boolean;
}) {
  if (error) {
    return (
      <section class="page">
        {link}
        <div class="banner banner-error" role="alert" data-testid="error-banner" data-status={error.status}>
          {error.message}
        </div>
      </section>
    );
  }
  if (!loaded) {
    return (
      <section class="page" aria-busy="true">
        {link}
        <p class="muted">{loading}</p>
      </section>
    );
  }
  return null;
}

/** Server-highlighted snippet; text is rendered as text, never as HTML. */
export function Snippet({ parts }: { parts: SnippetPart[] }) {
  return (
    <span class="snippet" data-testid="snippet">
      {parts.map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
    </span>
  );
}

export function MatchList({ session, matches, onOpen }: { session: Session; matches: Match[]; onOpen: (seq: number) => void }) {
  const shown = matches.slice(0, 5);
  return (
    <ul class="matches" aria-label={`Matching statements in session ${session.id}`}>
      {shown.map((m) => (
        <li key={m.seq}>
          <a
            href={`/sessions/${encodeURIComponent(session.id)}?seq=${m.seq}`}
            onClick={(e) => {
              if (e.button !== 0 || e.metaKey || e.ctrlKey) return;
              e.preventDefault();
              e.stopPropagation();
              onOpen(m.seq);
            }}
          >
            <span class="seq">#{m.seq}</span> <span class="kind">{m.kind}</span>
          </a>{' '}
          <Snippet parts={m.snippet} />
        </li>
      ))}
      {matches.length > shown.length && <li class="muted">…and {matches.length - shown.length} more</li>}
    </ul>
  );
}

export function OutcomeBadge({ outcome, live }: { outcome: Session['outcome']; live: boolean }) {
  if (live)
    return (
      <span class="badge badge-live" title="Session in progress">
        <span class="dot" aria-hidden="true" /> live
      </span>
    );
  if (!outcome) return <span class="badge">—</span>;
  return <span class={`badge badge-${outcome}`}>{outcome}</span>;
}

const INTEGRITY_LABEL: Record<string, string> = {
  verified: 'Verified',
  open: 'Intact · open (no signed end yet)',
  tampered: 'Tampered',
  missing_events: 'Missing events',
  missing_session: 'Missing session record',
  pruned: 'Pruned',
  orphaned: 'Orphaned',
};

export function IntegrityBadge({ integrity }: { integrity: Integrity }) {
  const cls = !integrity.ok ? 'bad' : integrity.status === 'open' ? 'warn' : 'good';
  const icon = cls === 'good' ? '✔' : cls === 'warn' ? '◐' : '✖';
  return (
    <div
      class={`integrity integrity-${cls}`}
      data-testid="integrity-badge"
      data-status={integrity.status}
      data-ok={String(integrity.ok)}
      role={integrity.ok ? 'status' : 'alert'}
    >
      <span class="integrity-label">
        <span aria-hidden="true">{icon}</span> Integrity: {INTEGRITY_LABEL[integrity.status] ?? integrity.status}
      </span>
      {integrity.detail && (
        <span class="integrity-detail" data-testid="integrity-detail">
          {integrity.detail}
        </span>
      )}
    </div>
  );
}

/** Inline lock icon (no emoji: headless/minimal systems lack emoji fonts). */
export function LockIcon() {
  return (
    <svg class="icon-lock" viewBox="0 0 16 16" width="11" height="11" aria-hidden="true" focusable="false">
      <path
        fill="currentColor"
        d="M8 1a3.5 3.5 0 0 0-3.5 3.5V7H4a1 1 0 0 0-1 1v6a1 1 0 0 0 1 1h8a1 1 0 0 0 1-1V8a1 1 0 0 0-1-1h-.5V4.5A3.5 3.5 0 0 0 8 1Zm-2 6V4.5a2 2 0 1 1 4 0V7H6Z"
      />
    </svg>
  );
}
