import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, Me, ServerInfo } from '../api';

export function Login({ onLogin, notice }: { onLogin: (me: Me) => void; notice?: string }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  // An identity provider's refusal comes back as ?login_error=… after its redirect.
  const [error, setError] = useState<string | null>(
    () => new URLSearchParams(window.location.search).get('login_error'),
  );
  const [busy, setBusy] = useState(false);
  const [info, setInfo] = useState<ServerInfo | null>(null);
  useEffect(() => {
    api.info().then(setInfo, () => setInfo(null));
  }, []);
  const providers = [
    ...(info?.issuers ?? []).map((name) => ({ name, href: `/auth/web/login?issuer=${encodeURIComponent(name)}` })),
    ...(info?.saml ?? []).map((name) => ({ name, href: `/auth/web/saml?issuer=${encodeURIComponent(name)}` })),
  ];

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const me = await api.login(username.trim(), password);
      onLogin(me);
    } catch (err) {
      const ae = err as ApiError;
      setError(
        ae.code === 'bad_credentials' && !ae.message
          ? 'Wrong username or password.'
          : ae.message || 'Sign-in failed.',
      );
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="center-page">
      <form class="login-card" onSubmit={submit} data-testid="login-form" aria-labelledby="login-title">
        <h1 id="login-title">
          <span class="logo" aria-hidden="true">◆</span> Ward
        </h1>
        <p class="muted">Sign in to review recorded sessions.</p>
        {notice && !error && (
          <div class="banner banner-info" role="status">
            {notice}
          </div>
        )}
        {error && (
          <div class="banner banner-error" role="alert" data-testid="login-error">
            {error}
          </div>
        )}
        <label>
          Username
          <input
            data-testid="login-username"
            name="username"
            autocomplete="username"
            required
            autoFocus
            value={username}
            onInput={(e) => setUsername((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Password
          <input
            data-testid="login-password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
          />
        </label>
        <button class="btn btn-primary" type="submit" data-testid="login-submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {providers.length > 0 && (
          <div class="sso" data-testid="login-providers">
            <p class="muted">or</p>
            {providers.map((p) => (
              <a class="btn" href={p.href} data-testid="login-provider" data-provider={p.name}>
                Sign in with {p.name}
              </a>
            ))}
          </div>
        )}
      </form>
    </div>
  );
}
