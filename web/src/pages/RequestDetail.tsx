import { useEffect, useState } from 'preact/hooks';
import { AccessRequest, api, ApiError } from '../api';
import { linkClick } from '../router';
import { PageStatus } from '../components/Bits';
import { fmtSeconds, fmtTime } from '../format';
import {
  ApprovalCount,
  isStep,
  KindBadge,
  ReviewControls,
  ReviewList,
  SessionLink,
  StateBadge,
  stepOutcome,
} from '../components/Requests';

/**
 * One request (webhook notifications link approvers here), with its reviews: access to a resource
 * for a window, or a step (statement, command, tool call) a guardrail holds while its session waits.
 */
export function RequestDetailPage({ id }: { id: string }) {
  const [request, setRequest] = useState<AccessRequest | null>(null);
  const [error, setError] = useState<{ status: number; message: string } | null>(null);

  useEffect(() => {
    let cancelled = false;
    setRequest(null);
    setError(null);
    api
      .accessRequest(id)
      .then((r) => !cancelled && setRequest(r))
      .catch((e: ApiError) => {
        if (cancelled) return;
        const message =
          e.status === 403
            ? 'You may not view this request: only its requester, its approvers and auditors do.'
            : e.status === 404
              ? 'Request not found. The link may be wrong.'
              : e.message;
        setError({ status: e.status, message });
      });
    return () => {
      cancelled = true;
    };
  }, [id]);

  const back = (
    <a href="/requests" onClick={linkClick} class="back">
      ← All access requests
    </a>
  );

  if (error || !request) {
    return (
      <PageStatus back={back} error={error} loading="Loading request…" loaded={!!request} />
    );
  }

  const r = request;
  const step = isStep(r);
  // A held step waits at most until then.
  const heldMs = Date.parse(r.requested_at) + r.seconds * 1000;
  const heldUntil = fmtTime(isNaN(heldMs) ? null : new Date(heldMs).toISOString());
  return (
    <section
      class="page detail"
      data-testid="request-detail"
      data-request-id={r.id}
      data-kind={r.kind}
      data-state={r.state}
      aria-labelledby="request-title"
    >
      {back}
      <div class="detail-head">
        <div>
          <h1 id="request-title">
            {step ? 'Step held for review' : 'Access request'}: {r.requester} → {r.resource} <StateBadge state={r.state} />
          </h1>
          <div class="muted small">
            <KindBadge kind={r.kind} /> <span class="mono">request {r.id}</span>
            {step && <span> · held by guardrail {r.rule ?? '?'}</span>}
          </div>
        </div>
        {r.may_review && (
          <div class="detail-actions">
            <ReviewControls request={r} onDone={setRequest} />
          </div>
        )}
      </div>
      <dl class="facts">
        <div>
          <dt>Requester</dt>
          <dd>
            {r.requester} ·{' '}
            {step ? (
              <SessionLink id={r.session} label={r.state === 'pending' ? 'session where it waits' : 'session where it was held'} />
            ) : (
              <SessionLink id={r.session} />
            )}
          </dd>
        </div>
        <div>
          <dt>Resource</dt>
          <dd>{r.resource}</dd>
        </div>
        {step ? (
          <div>
            <dt>Guardrail</dt>
            <dd data-testid="request-rule">{r.rule ?? '—'}</dd>
          </div>
        ) : (
          <div>
            <dt>For</dt>
            <dd title={`${r.seconds} s from approval`}>{fmtSeconds(r.seconds)}</dd>
          </div>
        )}
        <div>
          <dt>{step ? 'Held' : 'Requested'}</dt>
          <dd title={r.requested_at}>{fmtTime(r.requested_at)}</dd>
        </div>
        <div>
          <dt>Approvers</dt>
          <dd>group {r.approvers.join(', group ')}</dd>
        </div>
        <div>
          <dt>Approvals</dt>
          <dd>
            <ApprovalCount request={r} /> needed
          </dd>
        </div>
        <div>
          <dt>Decided</dt>
          <dd title={r.decided_at ?? 'not yet'}>{fmtTime(r.decided_at)}</dd>
        </div>
        {step ? (
          <div>
            <dt>Session waits</dt>
            <dd title={`${r.seconds} s at most, until ${heldUntil}`} data-testid="request-held-for">
              held up to {fmtSeconds(r.seconds)}
              {r.state === 'pending' && <span class="muted"> (until {heldUntil})</span>}
            </dd>
          </div>
        ) : (
          <div>
            <dt>{r.state === 'expired' ? 'Window ended' : 'Open until'}</dt>
            <dd title={r.expires_at ?? ''} data-testid="request-expires">
              {r.expires_at ? fmtTime(r.expires_at) : r.state === 'pending' ? `${fmtSeconds(r.seconds)} from approval` : '—'}
            </dd>
          </div>
        )}
        {step && (
          <div>
            <dt>Outcome</dt>
            <dd data-testid="request-outcome">{stepOutcome(r.state)}</dd>
          </div>
        )}
      </dl>
      {step ? (
        <>
          <h2 class="view-title">Held statement / command</h2>
          <pre class="sql held-text" data-testid="request-reason-text">
            {r.reason}
          </pre>
        </>
      ) : (
        <>
          <h2 class="view-title">Reason</h2>
          <p class="reason-text" data-testid="request-reason-text">
            {r.reason}
          </p>
        </>
      )}
      <h2 class="view-title">Reviews</h2>
      <ReviewList reviews={r.reviews} detailed />
    </section>
  );
}
