import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, totalOf, unwrap } from '../../api/client';
import { ErrorNote, Field, Loading, Notice, PAGE, Page, Pager, Select } from '../../ui';

export function NewUser({ empresaId, onDone }: { empresaId?: string; onDone: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const [msg, setMsg] = useState<string | null>(null);
  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    setError(null);
    setMsg(null);
    const rol = empresaId ? 'cliente_admin' : String(f.get('rol'));
    try {
      const r = unwrap(
        await api.POST('/admin/usuarios', {
          body: { nombre: String(f.get('nombre')), email: String(f.get('email')), password: String(f.get('password')), rol, empresa_id: rol === 'cliente_admin' ? (empresaId ?? (String(f.get('empresa_id') ?? '') || null)) : null },
        }),
      );
      setMsg(r.message);
      form.reset();
      onDone();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <form onSubmit={(e) => void submit(e)} aria-labelledby="h-nuevo-admin">
      <h3 id="h-nuevo-admin">Nuevo administrador</h3>
      <div className="grid">
        <Field label="Nombre del administrador" name="nombre" required maxLength={100} />
        <Field label="Correo del administrador" name="email" type="email" required autoComplete="off" />
        <Field label="Contraseña inicial" name="password" type="password" required minLength={8} autoComplete="new-password" hint="Al menos 8 caracteres" />
        {empresaId ? null : (
          <>
            <Select label="Rol" name="rol" defaultValue="cliente_admin">
              <option value="cliente_admin">Administrador de empresa</option>
              <option value="super_admin">Super admin</option>
            </Select>
            <Field label="ID de la empresa (administrador de empresa)" name="empresa_id" maxLength={50} />
          </>
        )}
      </div>
      <ErrorNote error={error} />
      {msg ? <Notice>{msg}</Notice> : null}
      <button type="submit" className="primary">
        Crear administrador
      </button>
    </form>
  );
}

type User = { id: number; email: string; nombre: string; rol: string; empresa_id: string | null; activo: boolean };

function UserRow({ u, onChange }: { u: User; onChange: (m: string) => void }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const toggle = useMutation({
    mutationFn: async () => unwrap(await api.PUT('/admin/usuarios/{usuario_id}/toggle-activo', { params: { path: { usuario_id: u.id } } })),
    onSuccess: (r) => onChange(r.message),
  });
  async function save(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setError(null);
    try {
      unwrap(await api.PUT('/admin/usuarios/{usuario_id}', { params: { path: { usuario_id: u.id } }, body: { nombre: String(f.get('nombre')), email: String(f.get('email')) } }));
      const pw = String(f.get('password') ?? '');
      if (pw) unwrap(await api.POST('/admin/usuarios/{usuario_id}/reset-password', { params: { path: { usuario_id: u.id } }, body: { new_password: pw } }));
      setOpen(false);
      onChange(pw ? 'Administrador actualizado y contraseña restablecida' : 'Administrador actualizado');
    } catch (err) {
      setError(err);
    }
  }
  return (
    <tr>
      <td data-label="Nombre">
        {u.nombre}
        {open ? (
          <form className="inline-edit" onSubmit={(e) => void save(e)} aria-label={`Editar ${u.email}`}>
            <Field label="Nombre" name="nombre" defaultValue={u.nombre} required />
            <Field label="Correo" name="email" type="email" defaultValue={u.email} required />
            <Field label="Nueva contraseña (restablecer)" name="password" type="password" minLength={8} autoComplete="new-password" hint="Vacío: no cambia" />
            <ErrorNote error={error} />
            <button type="submit" className="primary">
              Guardar
            </button>
          </form>
        ) : null}
      </td>
      <td data-label="Correo">{u.email}</td>
      <td data-label="Rol">{u.rol === 'super_admin' ? 'Super admin' : 'Empresa'}</td>
      <td data-label="Empresa">{u.empresa_id ? <a href={`#/super/empresas/${encodeURIComponent(u.empresa_id)}`}>{u.empresa_id}</a> : '—'}</td>
      <td data-label="Estado">{u.activo ? 'Activo' : 'Inactivo'}</td>
      <td data-label="Acciones" className="actions">
        <button type="button" onClick={() => setOpen(!open)} aria-expanded={open}>
          {open ? 'Cerrar' : 'Editar'}
        </button>
        <button type="button" onClick={() => toggle.mutate()}>
          {u.activo ? 'Desactivar' : 'Activar'}
        </button>
        <ErrorNote error={toggle.error} />
      </td>
    </tr>
  );
}

export function Users() {
  const qc = useQueryClient();
  const [offset, setOffset] = useState(0);
  const [msg, setMsg] = useState<string | null>(null);
  const list = useQuery({
    queryKey: ['usuarios', offset],
    queryFn: async () => {
      const r = await api.GET('/admin/usuarios', { params: { query: { limit: PAGE, offset } } });
      const items = unwrap(r);
      return { items, total: totalOf(r, items.length) };
    },
  });
  const changed = (m: string) => {
    setMsg(m);
    void qc.invalidateQueries({ queryKey: ['usuarios'] });
  };
  return (
    <Page title="Administradores">
      <div className="card">
        <NewUser onDone={() => changed('Administrador creado')} />
      </div>
      {msg ? <Notice>{msg}</Notice> : null}
      <ErrorNote error={list.error} />
      {!list.data ? (
        <Loading />
      ) : (
        <>
          <table className="table responsive" aria-label="Administradores">
            <thead>
              <tr>
                <th scope="col">Nombre</th>
                <th scope="col">Correo</th>
                <th scope="col">Rol</th>
                <th scope="col">Empresa</th>
                <th scope="col">Estado</th>
                <th scope="col">Acciones</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((u) => (
                <UserRow key={u.id} u={u} onChange={changed} />
              ))}
            </tbody>
          </table>
          <Pager total={list.data.total} offset={offset} onChange={setOffset} />
        </>
      )}
    </Page>
  );
}
