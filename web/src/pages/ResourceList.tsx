import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, Me, Resource } from '../api';
import { linkClick } from '../router';
import { fmtTime } from '../format';

/** How each kind is reached, for the resources without a URL. */
const CLIENT: Record<string, string> = {
  postgres: 'a PostgreSQL client, through Ward',
  mysql: 'a MySQL or MariaDB client over TLS, through Ward',
  ssh: 'an SSH client, through Ward',
};

/**
 * Opens an HTTP resource in a new tab: asks Ward for a token (no longer-lived than this
 * sign-in) and posts it, as a form, in a new tab, to Ward's launch page for the resource
 * (`api.launchPage`), which posts it on to the resource's launch address on Ward's HTTP
 * listener (this page's content security policy lets forms post to this origin only); that
 * sets the resource's cookie and sends the tab on to it. The token is in the form only while
 * it is submitted.
 */
function OpenButton({ resource }: { resource: Resource }) {
  const form = useRef<HTMLFormElement>(null);
  const field = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [opened, setOpened] = useState<string | null>(null);

  const open = () => {
    if (busy) return;
    setBusy(true);
    setError(null);
    setOpened(null);
    api
      .openResource(resource.name)
      .then(
        (launch) => {
          const f = form.current;
          const t = field.current;
          if (!f || !t) return;
          t.value = launch.token;
          f.submit();
          t.value = '';
          setOpened(launch.expires_at);
        },
        (e: ApiError) => setError(e.message),
      )
      .finally(() => setBusy(false));
  };

  return (
    <div class="open-resource">
      <button
        type="button"
        class="btn btn-primary btn-small"
        onClick={open}
        disabled={busy}
        data-testid="resource-open"
        title={`Open ${resource.name} in a new tab, signed in as you`}
      >
        Open ↗
      </button>
      {/* The launch: a top-level POST in a new tab (noopener: the resource gets no handle on this page). */}
      <form
        ref={form}
        method="post"
        action={api.launchPage(resource.name)}
        target="_blank"
        rel="noopener noreferrer"
        hidden
      >
        <input ref={field} type="hidden" name="token" />
      </form>
      {opened && (
        <span class="muted small" role="status" data-testid="resource-opened">
          Opened in a new tab; signed in there until {fmtTime(opened)}
        </span>
      )}
      {error && (
        <div class="banner banner-error" role="alert" data-testid="resource-error">
          {error}
        </div>
      )}
    </div>
  );
}

function NeedsApproval({ name }: { name: string }) {
  return (
    <a
      class="badge badge-pending"
      href={`/requests?resource=${encodeURIComponent(name)}`}
      onClick={linkClick}
      data-testid="needs-approval"
      title="Every grant of it needs an approved access request first: ask for one"
    >
      needs approval
    </a>
  );
}

export function ResourceListPage({ me }: { me: Me }) {
  const [resources, setResources] = useState<Resource[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    api
      .resources()
      .then((r) => !cancelled && setResources(r.resources))
      .catch((e: ApiError) => !cancelled && setError(e.message))
      .finally(() => !cancelled && setLoading(false));
    return () => {
      cancelled = true;
    };
  }, []);

  return (
    <section class="page" aria-labelledby="resources-title">
      <div class="page-head">
        <h1 id="resources-title">Resources</h1>
        <span class="muted">What your grants let {me.user} reach through Ward; every session is recorded</span>
      </div>

      {error && (
        <div class="banner banner-error" role="alert" data-testid="error-banner">
          {error}
        </div>
      )}

      <table class="sessions resources" data-testid="resource-table" aria-busy={loading}>
        <thead>
          <tr>
            <th>Resource</th>
            <th>Kind</th>
            <th>How to connect</th>
          </tr>
        </thead>
        <tbody>
          {resources.map((r) => (
            <tr key={r.name} data-testid="resource-row" data-resource={r.name} data-kind={r.kind}>
              <td class="nowrap">
                <strong>{r.name}</strong>
              </td>
              <td class="nowrap">
                <span class="badge" data-testid="resource-kind">
                  {r.kind}
                </span>{' '}
                {r.requires_approval && <NeedsApproval name={r.name} />}
              </td>
              <td>
                {r.kind === 'http' ? (
                  r.url ? (
                    <div class="connect">
                      <code class="resource-url" data-testid="resource-url">
                        {r.url}
                      </code>
                      <OpenButton resource={r} />
                    </div>
                  ) : (
                    <span class="muted">Ward serves no HTTP listener for it</span>
                  )
                ) : (
                  <span class="muted">{CLIENT[r.kind] ?? `a ${r.kind} client, through Ward`}</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!loading && !error && resources.length === 0 && (
        <p class="empty" data-testid="empty">
          No grant names you for a resource.
        </p>
      )}
      <div class="list-foot">{loading && <span aria-live="polite">Loading…</span>}</div>
    </section>
  );
}
