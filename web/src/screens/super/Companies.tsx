import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, totalOf, unwrap } from '../../api/client';
import { navigate } from '../../router';
import { DataTable, Check, ConfirmButton, ErrorNote, Field, Loading, Notice, PAGE, Page, Pager, fmtDate } from '../../ui';
import { KitButton } from '../company/Routers';
import { NewUser } from './Users';

export function Companies() {
  const qc = useQueryClient();
  const [offset, setOffset] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const list = useQuery({
    queryKey: ['empresas', offset],
    queryFn: async () => {
      const r = await api.GET('/admin/empresas', { params: { query: { limit: PAGE, offset } } });
      const items = unwrap(r);
      return { items, total: totalOf(r, items.length) };
    },
  });
  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setError(null);
    try {
      const c = unwrap(await api.POST('/admin/empresas', { body: { nombre: String(f.get('nombre')), contacto_email: String(f.get('email')), contacto_telefono: String(f.get('tel') ?? '') || null } }));
      void qc.invalidateQueries({ queryKey: ['empresas'] });
      navigate(`/super/empresas/${c.id}`);
    } catch (err) {
      setError(err);
    }
  }
  return (
    <Page title="Empresas">
      <form className="card" onSubmit={(e) => void create(e)} aria-labelledby="nueva-empresa">
        <h2 id="nueva-empresa">Nueva empresa</h2>
        <div className="grid">
          <Field label="Nombre" name="nombre" required maxLength={100} />
          <Field label="Correo de contacto" name="email" type="email" required maxLength={100} />
          <Field label="Teléfono" name="tel" type="tel" maxLength={20} />
        </div>
        <ErrorNote error={error} />
        <button type="submit" className="primary">
          Crear empresa
        </button>
      </form>
      <ErrorNote error={list.error} />
      {!list.data ? (
        <Loading />
      ) : (
        <>
          <DataTable
            label="Empresas"
            rows={list.data.items}
            rowKey={(c) => c.id}
            columns={[
              {
                label: 'Empresa',
                cell: (c) => (
                  <>
                    <a href={`#/super/empresas/${encodeURIComponent(c.id)}`}>{c.nombre}</a>
                  </>
                ),
              },
              { label: 'Contacto', cell: (c) => c.contacto_email ?? '—' },
              { label: 'Estado', cell: (c) => (c.activa ? 'Activa' : 'Inactiva') },
              { label: 'Alta', cell: (c) => fmtDate(c.creada_en) },
            ]}
          />
          <Pager total={list.data.total} offset={offset} onChange={setOffset} />
        </>
      )}
    </Page>
  );
}

type RouterRow = { id: string; nombre: string; host: string; puerto: number | null; ubicacion: string | null; activo: boolean };

/** Edit (address, RouterOS credentials) and test one router of any company. */
function RouterTools({ empresaId, r, onSaved }: { empresaId: string; r: RouterRow; onSaved: () => void }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const test = useMutation({
    mutationFn: async () => unwrap(await api.GET('/api/v1/admin/empresas/{empresa_id}/routers/{router_id}/test-connection', { params: { path: { empresa_id: empresaId, router_id: r.id } } })),
  });
  async function save(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const v = (k: string) => String(f.get(k) ?? '');
    setError(null);
    try {
      unwrap(
        await api.PUT('/admin/empresas/{empresa_id}/routers/{router_id}', {
          params: { path: { empresa_id: empresaId, router_id: r.id } },
          body: {
            nombre: v('nombre'),
            host: v('host'),
            puerto: Number(v('puerto') || 8728),
            ubicacion: v('ubicacion') || null,
            ...(v('usuario') ? { usuario: v('usuario') } : {}),
            ...(v('password') ? { password_encrypted: v('password') } : {}),
          },
        }),
      );
      setOpen(false);
      onSaved();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <>
      <div className="row">
        <button type="button" onClick={() => test.mutate()} disabled={test.isPending}>
          {test.isPending ? 'Probando…' : 'Probar conexión'}
        </button>
        <button type="button" onClick={() => setOpen(!open)} aria-expanded={open}>
          {open ? 'Cerrar edición' : 'Editar'}
        </button>
      </div>
      {test.data ? (
        <p role="status" className={test.data.success ? 'ok' : 'error'}>
          {test.data.success ? `Conexión exitosa: ${test.data.router_name ?? ''}, ${test.data.perfiles_encontrados} perfiles` : test.data.error}
        </p>
      ) : null}
      <ErrorNote error={test.error} />
      {open ? (
        <form className="inline-edit" onSubmit={(e) => void save(e)} aria-label={`Editar ${r.nombre}`}>
          <div className="grid">
            <Field label="Nombre" name="nombre" defaultValue={r.nombre} required maxLength={100} />
            <Field label="Host" name="host" defaultValue={r.host} required maxLength={50} />
            <Field label="Puerto" name="puerto" type="number" min={1} max={65535} defaultValue={r.puerto ?? 8728} />
            <Field label="Ubicación" name="ubicacion" defaultValue={r.ubicacion ?? ''} maxLength={200} />
            <Field label="Usuario RouterOS (vacío: sin cambio)" name="usuario" maxLength={50} autoComplete="off" />
            <Field label="Contraseña RouterOS (vacío: sin cambio)" name="password" type="password" maxLength={200} autoComplete="new-password" />
          </div>
          <ErrorNote error={error} />
          <button type="submit" className="primary">
            Guardar router
          </button>
        </form>
      ) : null}
    </>
  );
}

function CompanyRouters({ empresaId }: { empresaId: string }) {
  const qc = useQueryClient();
  const [offset, setOffset] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [newKey, setNewKey] = useState<string | null>(null);
  const key = ['routers-empresa', empresaId, offset];
  const list = useQuery({
    queryKey: key,
    queryFn: async () => {
      const r = await api.GET('/admin/empresas/{empresa_id}/routers', { params: { path: { empresa_id: empresaId }, query: { limit: PAGE, offset } } });
      const items = unwrap(r);
      return { items, total: totalOf(r, items.length) };
    },
  });
  const refresh = () => void qc.invalidateQueries({ queryKey: ['routers-empresa', empresaId] });
  const toggle = useMutation({
    mutationFn: async (id: string) => unwrap(await api.PUT('/admin/empresas/{empresa_id}/routers/{router_id}/toggle-activo', { params: { path: { empresa_id: empresaId, router_id: id } } })),
    onSuccess: refresh,
  });
  const regen = useMutation({
    mutationFn: async (id: string) => unwrap(await api.POST('/admin/empresas/{empresa_id}/routers/{router_id}/regenerate-api-key', { params: { path: { empresa_id: empresaId, router_id: id } } })),
    onSuccess: (r) => setNewKey(r.new_api_key),
  });
  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    setError(null);
    setNewKey(null);
    try {
      const r = unwrap(
        await api.POST('/admin/empresas/{empresa_id}/routers', {
          params: { path: { empresa_id: empresaId } },
          body: {
            nombre: String(f.get('nombre')),
            host: String(f.get('host')),
            puerto: Number(f.get('puerto') || 8728),
            usuario: String(f.get('usuario')),
            password: String(f.get('password')),
            ubicacion: String(f.get('ubicacion') ?? '') || null,
          },
        }),
      );
      setNewKey(r.api_key);
      form.reset();
      refresh();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <section className="card" aria-labelledby="h-routers">
      <h2 id="h-routers">Routers</h2>
      <ErrorNote error={list.error ?? toggle.error ?? regen.error} />
      {newKey ? (
        <div className="notice" role="status">
          <p>API key del router (solo se muestra ahora; el kit del portal la trae también):</p>
          <code className="secret">{newKey}</code>
        </div>
      ) : null}
      {list.data ? (
        <>
          <ul className="cards">
            {list.data.items.map((r) => (
              <li key={r.id} className="subcard">
                <strong>{r.nombre}</strong> <small className="muted">({r.id})</small>
                <p className="muted">
                  {r.host}:{r.puerto ?? 8728}
                  {r.ubicacion ? ` · ${r.ubicacion}` : ''} · {r.activo ? 'Activo' : 'Inactivo'}
                </p>
                <div className="row">
                  <button type="button" onClick={() => toggle.mutate(r.id)}>
                    {r.activo ? 'Desactivar' : 'Activar'}
                  </button>
                  <ConfirmButton
                    label="Regenerar API key"
                    question={`¿Regenerar la API key de ${r.nombre}? La actual deja de funcionar al instante.`}
                    confirmLabel="Regenerar"
                    danger
                    onConfirm={() => regen.mutate(r.id)}
                  />
                </div>
                <RouterKeys empresaId={empresaId} routerId={r.id} nombre={r.nombre} />
                <RouterTools empresaId={empresaId} r={r} onSaved={refresh} />
                <KitButton routerId={r.id} />
              </li>
            ))}
          </ul>
          {list.data.items.length === 0 ? <p className="muted">Sin routers.</p> : null}
          <Pager total={list.data.total} offset={offset} onChange={setOffset} />
        </>
      ) : (
        <Loading />
      )}
      <form onSubmit={(e) => void create(e)} aria-labelledby="h-nuevo-router">
        <h3 id="h-nuevo-router">Nuevo router</h3>
        <div className="grid">
          <Field label="Nombre del router" name="nombre" required maxLength={100} />
          <Field label="Host (IP o nombre)" name="host" required maxLength={50} />
          <Field label="Puerto API" name="puerto" type="number" min={1} max={65535} defaultValue={8728} />
          <Field label="Usuario RouterOS" name="usuario" required maxLength={50} autoComplete="off" />
          <Field label="Contraseña RouterOS" name="password" type="password" maxLength={255} autoComplete="new-password" />
          <Field label="Ubicación" name="ubicacion" maxLength={200} />
        </div>
        <ErrorNote error={error} />
        <button type="submit" className="primary">
          Crear router
        </button>
      </form>
    </section>
  );
}

function CompanyAdmins({ empresaId }: { empresaId: string }) {
  const qc = useQueryClient();
  const list = useQuery({
    queryKey: ['usuarios', 'empresa', empresaId],
    queryFn: async () => unwrap(await api.GET('/admin/usuarios', { params: { query: { limit: 100, offset: 0, empresa_id: empresaId } } })),
  });
  return (
    <section className="card" aria-labelledby="h-admins">
      <h2 id="h-admins">Administradores de la empresa</h2>
      <ErrorNote error={list.error} />
      <ul>
        {list.data?.map((u) => (
          <li key={u.id}>
            {u.nombre} · {u.email} · {u.activo ? 'activo' : 'inactivo'}
          </li>
        ))}
      </ul>
      {list.data?.length === 0 ? <p className="muted">Sin administradores.</p> : null}
      <NewUser empresaId={empresaId} onDone={() => void qc.invalidateQueries({ queryKey: ['usuarios'] })} />
    </section>
  );
}

export function CompanyView({ id }: { id: string }) {
  const qc = useQueryClient();
  const c = useQuery({ queryKey: ['empresa', id], queryFn: async () => unwrap(await api.GET('/admin/empresas/{empresa_id}', { params: { path: { empresa_id: id } } })) });
  const [error, setError] = useState<unknown>(null);
  const [msg, setMsg] = useState<string | null>(null);
  async function save(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setError(null);
    setMsg(null);
    try {
      unwrap(
        await api.PUT('/admin/empresas/{empresa_id}', {
          params: { path: { empresa_id: id } },
          body: { nombre: String(f.get('nombre')), contacto_email: String(f.get('email')), contacto_telefono: String(f.get('tel') ?? '') || null, activa: f.get('activa') === 'on' },
        }),
      );
      setMsg('Empresa actualizada');
      void qc.invalidateQueries({ queryKey: ['empresa', id] });
      void qc.invalidateQueries({ queryKey: ['empresas'] });
    } catch (err) {
      setError(err);
    }
  }
  const e = c.data;
  return (
    <Page title={e ? e.nombre : 'Empresa'} actions={<a href="#/super/empresas">‹ Empresas</a>}>
      <ErrorNote error={c.error} />
      {!e ? (
        c.isLoading ? (
          <Loading />
        ) : null
      ) : (
        <>
          <form className="card" onSubmit={(ev) => void save(ev)} aria-labelledby="h-datos" key={e.id + String(e.activa)}>
            <h2 id="h-datos">Datos</h2>
            <div className="grid">
              <Field label="Nombre" name="nombre" defaultValue={e.nombre} required maxLength={100} />
              <Field label="Correo de contacto" name="email" type="email" defaultValue={e.contacto_email ?? ''} maxLength={100} />
              <Field label="Teléfono" name="tel" defaultValue={e.contacto_telefono ?? ''} maxLength={20} />
            </div>
            <Check label="Empresa activa (si no, sus routers dejan de vender y sus administradores no entran)" name="activa" defaultChecked={e.activa} />
            <ErrorNote error={error} />
            {msg ? <Notice>{msg}</Notice> : null}
            <button type="submit" className="primary">
              Guardar
            </button>
          </form>
          <CompanyRouters empresaId={id} />
          <CompanyAdmins empresaId={id} />
        </>
      )}
    </Page>
  );
}

/** The router's API keys, newest first; a live one can be revoked (the router's portal stops working at once). */
function RouterKeys({ empresaId, routerId, nombre }: { empresaId: string; routerId: string; nombre: string }) {
  const qc = useQueryClient();
  const key = ['router-keys', empresaId, routerId];
  const keys = useQuery({
    queryKey: key,
    queryFn: async () =>
      unwrap(await api.GET('/admin/empresas/{empresa_id}/routers/{router_id}/api-keys', { params: { path: { empresa_id: empresaId, router_id: routerId }, query: { limit: 5, offset: 0 } } })),
  });
  const revoke = useMutation({
    mutationFn: async (keyId: string) =>
      unwrap(await api.POST('/admin/empresas/{empresa_id}/routers/{router_id}/api-keys/{key_id}/revoke', { params: { path: { empresa_id: empresaId, router_id: routerId, key_id: keyId } } })),
    onSettled: () => void qc.invalidateQueries({ queryKey: key }),
  });
  return (
    <details className="router-keys">
      <summary>API keys</summary>
      <ErrorNote error={keys.error ?? revoke.error} />
      {keys.data ? (
        <ul className="plain">
          {keys.data.map((k) => (
            <li key={k.key_id}>
              <code>{k.key_id}</code> · emitida {fmtDate(k.issued_at)} · {k.revoked ? `revocada ${fmtDate(k.revoked_at)}` : `vigente, ${k.use_count} usos`}{' '}
              {k.revoked ? null : (
                <ConfirmButton
                  label="Revocar"
                  question={`¿Revocar esta API key de ${nombre}? El portal del router deja de funcionar hasta que se emita otra.`}
                  confirmLabel="Revocar"
                  danger
                  onConfirm={() => revoke.mutate(k.key_id)}
                />
              )}
            </li>
          ))}
          {keys.data.length === 0 ? <li className="muted">Sin API keys.</li> : null}
        </ul>
      ) : (
        <Loading />
      )}
    </details>
  );
}
