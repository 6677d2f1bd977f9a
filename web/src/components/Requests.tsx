import { useState } from 'preact/hooks';
import { AccessRequest, api, ApiError, Review } from '../api';
import { linkClick } from '../router';
import { fmtTime } from '../format';

/** `pending`, `approved` (its window is open; a step: allowed to run), `denied`, `expired`. */
export function StateBadge({ state }: { state: string }) {
  return (
    <span class={`badge badge-${state}`} data-testid="request-state" data-state={state}>
      {state}
    </span>
  );
}

/** A step is a statement, command or tool call a guardrail (`action = "review"`) holds while its session waits. */
export function isStep(r: AccessRequest): boolean {
  return r.kind === 'step';
}

/** `access` (to a resource, for a window) or `step` (held for review). */
export function KindBadge({ kind }: { kind: string }) {
  return (
    <span class={`badge badge-kind-${kind}`} data-testid="request-kind" data-kind={kind}>
      {kind === 'step' ? 'held step' : 'access'}
    </span>
  );
}

/** What the state of a held step means for its session. */
export function stepOutcome(state: string): string {
  switch (state) {
    case 'pending':
      return 'its session waits';
    case 'approved':
      return 'allowed to run';
    case 'denied':
      return 'rejected';
    case 'expired':
      return 'nobody decided in time';
    default:
      return state;
  }
}

/** The statement, command or tool call held (masked), monospace. */
export function HeldText({ text }: { text: string }) {
  return (
    <code class="held-text" data-testid="held-text">
      {text}
    </code>
  );
}

export function RequestLink({ id }: { id: string }) {
  return (
    <a href={`/requests/${encodeURIComponent(id)}`} onClick={linkClick} class="mono" data-testid="request-link">
      {id}
    </a>
  );
}

export function SessionLink({ id, label = 'recorded session' }: { id: string; label?: string }) {
  return (
    <a href={`/sessions/${encodeURIComponent(id)}`} onClick={linkClick} data-testid="session-link" data-session-id={id} title={id}>
      {label}
    </a>
  );
}

/** Approvals so far / approvals needed. */
export function ApprovalCount({ request }: { request: AccessRequest }) {
  const got = request.reviews.filter((r) => r.approved).length;
  return (
    <span data-testid="approval-count">
      {got} / {request.approvals}
    </span>
  );
}

/** Who reviewed, how, and what they said; `detailed` adds when, and the session that recorded it. */
export function ReviewList({ reviews, detailed = false }: { reviews: Review[]; detailed?: boolean }) {
  if (!reviews.length) return <span class="muted">no reviews yet</span>;
  return (
    <ul class="reviews" data-testid="reviews">
      {reviews.map((r, i) => (
        <li key={i} data-testid="review" data-reviewer={r.reviewer} data-approved={String(r.approved)}>
          <span class={r.approved ? 'ok' : 'bad'}>{r.approved ? '✔ approved' : '✖ denied'}</span> by <strong>{r.reviewer}</strong>
          {r.comment && <span data-testid="review-comment-text">: “{r.comment}”</span>}
          {detailed && (
            <span class="muted small">
              {' '}
              · <time dateTime={r.at}>{fmtTime(r.at)}</time> · <SessionLink id={r.session} />
            </span>
          )}
        </li>
      ))}
    </ul>
  );
}

/**
 * Approve (comment optional) or deny (comment required: the requester reads it) a pending
 * request; `onDone` gets the request as it is after the review.
 */
export function ReviewControls({ request, onDone }: { request: AccessRequest; onDone: (r: AccessRequest) => void }) {
  const [asking, setAsking] = useState<'approve' | 'deny' | null>(null);
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!asking)
    return (
      <div class="review-actions">
        <button class="btn btn-approve" type="button" data-testid="approve" onClick={() => setAsking('approve')}>
          ✔ Approve
        </button>
        <button class="btn btn-danger" type="button" data-testid="deny" onClick={() => setAsking('deny')}>
          ✖ Deny
        </button>
      </div>
    );
  const approve = asking === 'approve';
  const submit = (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    api.review(request.id, approve, comment.trim()).then(
      (r) => {
        setBusy(false);
        setAsking(null);
        setComment('');
        onDone(r);
      },
      (err: ApiError) => {
        setBusy(false);
        setError(err.message);
      },
    );
  };
  return (
    <form class="review" onSubmit={submit} data-testid="review-form">
      <label>
        {approve ? 'Comment (optional, recorded)' : `Why (told to ${request.requester}, and recorded)`}
        <input
          data-testid="review-comment"
          value={comment}
          required={!approve}
          onInput={(e) => setComment((e.target as HTMLInputElement).value)}
        />
      </label>
      <button class={approve ? 'btn btn-approve' : 'btn btn-danger'} type="submit" disabled={busy} data-testid="review-confirm">
        {approve ? 'Approve' : 'Deny'}
      </button>
      <button class="btn" type="button" onClick={() => setAsking(null)}>
        Cancel
      </button>
      {error && (
        <div class="banner banner-error" role="alert" data-testid="review-error">
          {error}
        </div>
      )}
    </form>
  );
}
