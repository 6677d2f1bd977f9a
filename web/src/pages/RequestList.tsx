import { useEffect, useRef, useState } from 'preact/hooks';
import { AccessRequest, api, ApiError, Me } from '../api';
import { Loc, linkClick, navigate } from '../router';
import { fmtSeconds, fmtTime } from '../format';
import {
  ApprovalCount,
  HeldText,
  isStep,
  KindBadge,
  RequestLink,
  ReviewControls,
  ReviewList,
  SessionLink,
  StateBadge,
  stepOutcome,
} from '../components/Requests';

const STATES = ['pending', 'approved', 'denied', 'expired'];

/** Asks for access to a resource whose grant needs approval; shows the new request, or why not. */
function RequestForm({ resource: initial, onCreated }: { resource: string; onCreated: () => void }) {
  const [resource, setResource] = useState(initial);
  const [reason, setReason] = useState('');
  const [duration, setDuration] = useState('1h');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<AccessRequest | null>(null);

  const submit = (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    setCreated(null);
    api
      .askAccess({ resource: resource.trim(), reason, duration: duration.trim() })
      .then(
        (r) => {
          setCreated(r);
          setReason('');
          onCreated();
        },
        (err: ApiError) => setError(err.message),
      )
      .finally(() => setBusy(false));
  };
  const upd = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLInputElement).value);

  return (
    <form class="filters request-form" onSubmit={submit} data-testid="request-form" aria-labelledby="request-form-title">
      <h2 id="request-form-title" class="view-title">
        Request access
      </h2>
      <div class="filter-row">
        <label>
          Resource
          <input data-testid="request-resource" value={resource} required onInput={upd(setResource)} />
        </label>
        <label class="grow">
          Reason (approvers read it; recorded)
          <input
            data-testid="request-reason"
            value={reason}
            required
            placeholder="a ticket, or why you need it"
            onInput={upd(setReason)}
          />
        </label>
        <label>
          For
          <input
            class="duration"
            data-testid="request-duration"
            value={duration}
            required
            placeholder="1h"
            title="from approval: 30m, 1h, …"
            onInput={upd(setDuration)}
          />
        </label>
        <div class="filter-actions">
          <button class="btn btn-primary" type="submit" disabled={busy} data-testid="request-submit">
            Ask for approval
          </button>
        </div>
      </div>
      {created && (
        <div class="banner banner-info" role="status" data-testid="request-created" data-request-id={created.id}>
          Request <RequestLink id={created.id} /> for {created.resource} ({fmtSeconds(created.seconds)}) is{' '}
          {created.state}: a member of group {created.approvers.join(' or ')} approves it.
        </div>
      )}
      {error && (
        <div class="banner banner-error" role="alert" data-testid="request-error">
          {error}
        </div>
      )}
    </form>
  );
}

export function RequestListPage({ loc, me }: { loc: Loc; me: Me }) {
  const asked = loc.query.get('state') ?? '';
  const state = STATES.includes(asked) ? asked : '';
  const [requests, setRequests] = useState<AccessRequest[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  // Bumped to read the list again (after asking for access).
  const [reads, setReads] = useState(0);
  const reqId = useRef(0);

  useEffect(() => {
    const id = ++reqId.current;
    setLoading(true);
    setError(null);
    api
      .requests(state)
      .then((r) => id === reqId.current && setRequests(r.requests))
      .catch((e: ApiError) => id === reqId.current && setError(e.message))
      .finally(() => id === reqId.current && setLoading(false));
  }, [state, reads]);

  // A review returns the request as it is now: show that in its row.
  const replace = (r: AccessRequest) => setRequests((prev) => prev.map((x) => (x.id === r.id ? r : x)));
  const reviewable = requests.some((r) => r.may_review);

  return (
    <section class="page" aria-labelledby="requests-title">
      <div class="page-head">
        <h1 id="requests-title">Access requests</h1>
        <span class="muted">
          {me.auditor ? 'All requests' : 'Your requests, and those your groups approve'}: access to a resource for a
          while, and steps a guardrail holds for review
        </span>
      </div>
      {/* `?resource=NAME`: the Resources page's "needs approval" link fills it in. */}
      <RequestForm resource={loc.query.get('resource') ?? ''} onCreated={() => setReads((n) => n + 1)} />

      <div class="filters" role="search" aria-label="Filter requests">
        <div class="filter-row">
          <label>
            State
            <select
              data-testid="request-filter-state"
              value={state}
              onChange={(e) => {
                const v = (e.target as HTMLSelectElement).value;
                navigate(v ? `/requests?state=${v}` : '/requests');
              }}
            >
              <option value="">any</option>
              {STATES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
        </div>
      </div>

      {error && (
        <div class="banner banner-error" role="alert" data-testid="error-banner">
          {error}
        </div>
      )}

      <table class="sessions requests" data-testid="request-table" aria-busy={loading}>
        <thead>
          <tr>
            <th>Requested</th>
            <th>Kind</th>
            <th>Requester</th>
            <th>Resource</th>
            <th>Reason / held step</th>
            <th>For</th>
            <th>State</th>
            <th>Approvals</th>
            <th>Reviews</th>
            {reviewable && <th>Review</th>}
          </tr>
        </thead>
        <tbody>
          {requests.map((r) => {
            const step = isStep(r);
            return (
              <tr
                key={r.id}
                data-testid="request-row"
                data-request-id={r.id}
                data-kind={r.kind}
                data-state={r.state}
                data-requester={r.requester}
              >
                <td class="nowrap">
                  <a href={`/requests/${encodeURIComponent(r.id)}`} onClick={linkClick} title={r.requested_at}>
                    {fmtTime(r.requested_at)}
                  </a>
                </td>
                <td class="nowrap">
                  <KindBadge kind={r.kind} />
                </td>
                <td>
                  {r.requester}
                  {step && (
                    <div class="small">
                      <SessionLink id={r.session} label={r.state === 'pending' ? 'session (waiting)' : 'session'} />
                    </div>
                  )}
                </td>
                <td>{r.resource}</td>
                {step ? (
                  <td class="reason-cell">
                    <div class="muted small">held by guardrail {r.rule ?? '?'}:</div>
                    <HeldText text={r.reason} />
                  </td>
                ) : (
                  <td class="reason-cell">{r.reason}</td>
                )}
                {step ? (
                  <td class="nowrap" title={`held ${r.seconds} s at most while its session waits`}>
                    held up to {fmtSeconds(r.seconds)}
                  </td>
                ) : (
                  <td class="nowrap" title={`${r.seconds} s from approval`}>
                    {fmtSeconds(r.seconds)}
                  </td>
                )}
                <td>
                  <StateBadge state={r.state} />
                  {step && <div class="muted small">{stepOutcome(r.state)}</div>}
                  {!step && r.state === 'approved' && r.expires_at && (
                    <div class="muted small" title={r.expires_at}>
                      until {fmtTime(r.expires_at)}
                    </div>
                  )}
                </td>
                <td class="num">
                  <ApprovalCount request={r} />
                </td>
                <td>
                  <ReviewList reviews={r.reviews} />
                </td>
                {reviewable && <td>{r.may_review && <ReviewControls request={r} onDone={replace} />}</td>}
              </tr>
            );
          })}
        </tbody>
      </table>
      {!loading && !error && requests.length === 0 && (
        <p class="empty" data-testid="empty">
          {state ? `No ${state} requests.` : 'No requests yet.'}
        </p>
      )}
      <div class="list-foot">{loading && <span aria-live="polite">Loading…</span>}</div>
    </section>
  );
}
