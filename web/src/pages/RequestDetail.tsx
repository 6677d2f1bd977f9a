import { useEffect, useState } from 'preact/hooks';
import { AccessRequest, api, ApiError } from '../api';
import { linkClick } from '../router';
import { PageStatus } from '../components/Bits';
import { fmtSeconds, fmtTime } from '../format';
import { ApprovalCount, ReviewControls, ReviewList, SessionLink, StateBadge } from '../components/Requests';

/** One access request (webhook notifications link approvers here), with its reviews. */
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
  return (
    <section
      class="page detail"
      data-testid="request-detail"
      data-request-id={r.id}
      data-state={r.state}
      aria-labelledby="request-title"
    >
      {back}
      <div class="detail-head">
        <div>
          <h1 id="request-title">
            {r.requester} → {r.resource} <StateBadge state={r.state} />
          </h1>
          <div class="muted small mono">request {r.id}</div>
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
            {r.requester} · <SessionLink id={r.session} />
          </dd>
        </div>
        <div>
          <dt>Resource</dt>
          <dd>{r.resource}</dd>
        </div>
        <div>
          <dt>For</dt>
          <dd title={`${r.seconds} s from approval`}>{fmtSeconds(r.seconds)}</dd>
        </div>
        <div>
          <dt>Requested</dt>
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
        <div>
          <dt>{r.state === 'expired' ? 'Window ended' : 'Open until'}</dt>
          <dd title={r.expires_at ?? ''} data-testid="request-expires">
            {r.expires_at ? fmtTime(r.expires_at) : r.state === 'pending' ? `${fmtSeconds(r.seconds)} from approval` : '—'}
          </dd>
        </div>
      </dl>
      <h2 class="view-title">Reason</h2>
      <p class="reason-text" data-testid="request-reason-text">
        {r.reason}
      </p>
      <h2 class="view-title">Reviews</h2>
      <ReviewList reviews={r.reviews} detailed />
    </section>
  );
}
