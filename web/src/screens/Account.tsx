import { useState, type FormEvent } from 'react';
import { api, unwrap } from '../api/client';
import { getSession, setSession } from '../session';
import { ErrorNote, Field, Notice, Page } from '../ui';

export function Account() {
  const s = getSession()!;
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    setError(null);
    setDone(false);
    if (f.get('new_password') !== f.get('repeat')) return setError(new Error('Las contraseñas nuevas no coinciden'));
    try {
      const r = unwrap(await api.POST('/api/v1/auth/change-password', { body: { current_password: String(f.get('current_password')), new_password: String(f.get('new_password')) } }));
      // The change revokes earlier sessions and hands back a new token: keep working with it.
      setSession({ ...s, token: r.access_token });
      form.reset();
      setDone(true);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <Page title="Mi cuenta">
      <p>
        {s.user.nombre} · {s.user.email}
      </p>
      <form className="card narrow" onSubmit={(e) => void submit(e)} aria-label="Cambiar contraseña">
        <h2>Cambiar contraseña</h2>
        <Field label="Contraseña actual" name="current_password" type="password" autoComplete="current-password" required />
        <Field label="Contraseña nueva" name="new_password" type="password" autoComplete="new-password" minLength={8} required hint="Al menos 8 caracteres" />
        <Field label="Repite la contraseña nueva" name="repeat" type="password" autoComplete="new-password" required />
        <ErrorNote error={error} />
        {done ? <Notice>Contraseña cambiada. Las demás sesiones se cerraron.</Notice> : null}
        <button type="submit" className="primary">
          Guardar contraseña
        </button>
      </form>
    </Page>
  );
}
