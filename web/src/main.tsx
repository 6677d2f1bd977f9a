import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, Me, setCsrf, setUnauthenticatedHandler } from './api';
import { linkClick, navigate, useLocation } from './router';
import { Login } from './pages/Login';
import { SessionListPage } from './pages/SessionList';
import { SessionDetailPage } from './pages/SessionDetail';
import { RequestListPage } from './pages/RequestList';
import { RequestDetailPage } from './pages/RequestDetail';
import { ResourceListPage } from './pages/ResourceList';
import { ActivityPage } from './pages/Activity';
import './styles.css';

type AuthState = { status: 'loading' } | { status: 'anon'; reason?: string } | { status: 'in'; me: Me };

function App() {
  const [auth, setAuth] = useState<AuthState>({ status: 'loading' });
  const loc = useLocation();

  useEffect(() => {
    setUnauthenticatedHandler(() => {
      setCsrf('');
      setAuth({ status: 'anon', reason: 'Your session has expired. Please sign in again.' });
    });
    api
      .me()
      .then((me) => {
        setCsrf(me.csrf);
        setAuth({ status: 'in', me });
      })
      .catch((e: ApiError) =>
        setAuth({ status: 'anon', reason: e.status === 401 ? undefined : e.message }),
      );
  }, []);

  useEffect(() => {
    if (auth.status === 'in' && (loc.path === '/' || loc.path === '/login')) navigate('/sessions', true);
  }, [auth.status, loc.path]);

  if (auth.status === 'loading') {
    return (
      <div class="center-page" aria-busy="true">
        Loading…
      </div>
    );
  }
  if (auth.status === 'anon') {
    return (
      <Login
        notice={auth.reason}
        onLogin={(me) => {
          setCsrf(me.csrf);
          setAuth({ status: 'in', me });
        }}
      />
    );
  }

  const me = auth.me;
  const logout = async () => {
    try {
      await api.logout();
    } catch {
      /* the cookie may already be gone; still drop local state */
    }
    setCsrf('');
    setAuth({ status: 'anon' });
    navigate('/', true);
  };

  let page;
  const m = /^\/sessions\/([^/]+)\/?$/.exec(loc.path);
  // Webhook notifications link approvers to /requests/{id}.
  const r = /^\/requests\/([^/]+)\/?$/.exec(loc.path);
  if (m) page = <SessionDetailPage key={m[1]} id={decodeURIComponent(m[1])} loc={loc} me={me} />;
  else if (r) page = <RequestDetailPage key={r[1]} id={decodeURIComponent(r[1])} />;
  else if (loc.path === '/requests' || loc.path === '/requests/') page = <RequestListPage loc={loc} me={me} />;
  else if (loc.path === '/resources' || loc.path === '/resources/') page = <ResourceListPage me={me} />;
  else if (loc.path === '/activity' || loc.path === '/activity/') page = <ActivityPage loc={loc} me={me} />;
  else if (loc.path === '/sessions' || loc.path === '/' || loc.path === '/login') page = <SessionListPage loc={loc} me={me} />;
  else
    page = (
      <div class="banner banner-error" role="alert" data-testid="error-banner">
        Page not found. <a href="/sessions" onClick={linkClick}>Go to sessions</a>
      </div>
    );

  return (
    <>
      <header class="topbar">
        <a class="brand" href="/sessions" onClick={linkClick}>
          <span class="logo" aria-hidden="true">◆</span> Ward
        </a>
        <nav aria-label="Main">
          <a href="/sessions" onClick={linkClick} aria-current={loc.path.startsWith('/sessions') ? 'page' : undefined}>
            Sessions
          </a>
          <a
            href="/activity"
            onClick={linkClick}
            data-testid="nav-activity"
            aria-current={loc.path.startsWith('/activity') ? 'page' : undefined}
          >
            Activity
          </a>
          <a
            href="/resources"
            onClick={linkClick}
            data-testid="nav-resources"
            aria-current={loc.path.startsWith('/resources') ? 'page' : undefined}
          >
            Resources
          </a>
          <a
            href="/requests"
            onClick={linkClick}
            data-testid="nav-requests"
            aria-current={loc.path.startsWith('/requests') ? 'page' : undefined}
          >
            Access requests
          </a>
        </nav>
        <div class="spacer" />
        <div class="whoami" data-testid="current-user">
          <span class="user">{me.user}</span>
          {me.groups.length > 0 && <span class="groups">{me.groups.join(', ')}</span>}
          {me.auditor && (
            <span class="tag tag-auditor" data-testid="auditor-tag">
              auditor
            </span>
          )}
        </div>
        <button type="button" class="btn" data-testid="logout" onClick={logout}>
          Log out
        </button>
      </header>
      <main>{page}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
