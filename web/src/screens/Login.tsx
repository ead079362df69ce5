import { useState, type FormEvent } from 'react';
import { api, unwrap } from '../api/client';
import { setSession, takeNotice } from '../session';
import { navigate } from '../router';
import { ErrorNote, Field } from '../ui';

export function Login() {
  const [notice] = useState(() => takeNotice());
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setBusy(true);
    setError(null);
    try {
      const r = unwrap(await api.POST('/api/v1/auth/login', { body: { email: String(f.get('email')), password: String(f.get('password')) } }));
      setSession({ token: r.access_token, expiresAt: r.expires_at, user: r.user });
      navigate(r.user.rol === 'super_admin' ? '/super' : '/inicio');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login" id="main">
      <form onSubmit={(e) => void submit(e)} className="card" aria-labelledby="login-title">
        <h1 id="login-title">Panel de Pagos Hotspot</h1>
        <p className="muted">Inicia sesión con tu cuenta de administrador.</p>
        {notice ? (
          <p className="notice" role="status">
            {notice}
          </p>
        ) : null}
        <Field label="Correo electrónico" name="email" type="email" autoComplete="username" required autoFocus />
        <Field label="Contraseña" name="password" type="password" autoComplete="current-password" required />
        <ErrorNote error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Entrando…' : 'Entrar'}
        </button>
      </form>
    </main>
  );
}
