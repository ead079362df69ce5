import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, totalOf, unwrap } from '../../api/client';
import { DataTable, Check, ConfirmButton, ErrorNote, Field, Loading, Notice, PAGE, Page, Pager, Select, fmtMoney } from '../../ui';
import { useMyRouters } from './common';

type Product = {
  id: number;
  router_id: string;
  perfil_mikrotik_nombre: string;
  nombre_venta: string;
  precio: number;
  activo: boolean;
  duracion_minutos: number | null;
  descripcion: string | null;
  destacado: boolean;
};

function NewPlan({ onDone }: { onDone: () => void }) {
  const routers = useMyRouters();
  const [routerId, setRouterId] = useState('');
  const rid = routerId || routers.data?.[0]?.id || '';
  const profiles = useQuery({
    queryKey: ['perfiles', rid],
    enabled: !!rid,
    queryFn: async () => unwrap(await api.GET('/api/v1/admin/routers/{router_id}/mikrotik-profiles', { params: { path: { router_id: rid } } })),
  });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const profile = profiles.data?.find((p) => p.name === f.get('perfil'));
    if (!profile?.name) return setError(new Error('Elige un perfil del router'));
    setBusy(true);
    setError(null);
    try {
      const dur = String(f.get('duracion') ?? '').trim();
      unwrap(
        await api.POST('/api/v1/admin/products', {
          body: {
            router_id: rid,
            perfil_mikrotik_id: profile.id ?? profile.name,
            perfil_mikrotik_nombre: profile.name,
            nombre_venta: String(f.get('nombre')),
            precio: Number(f.get('precio')),
            descripcion: String(f.get('descripcion') ?? '') || null,
            duracion_minutos: dur ? Number(dur) : null,
            destacado: f.get('destacado') === 'on',
          },
        }),
      );
      form.reset();
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="nuevo-plan">
      <h2 id="nuevo-plan">Nuevo plan</h2>
      <ErrorNote error={routers.error} />
      <div className="grid">
        <Select label="Router" value={rid} onChange={(e) => setRouterId(e.target.value)} required>
          {routers.data?.map((r) => (
            <option key={r.id} value={r.id}>
              {r.nombre}
            </option>
          ))}
        </Select>
        {profiles.isLoading ? <Loading what="Leyendo perfiles del router…" /> : null}
        <Select label="Perfil de MikroTik" name="perfil" required disabled={!profiles.data} aria-describedby="perfiles-ayuda">
          {profiles.data?.map((p) => (
            <option key={p.id ?? p.name} value={p.name ?? ''}>
              {p.name}
              {p.rate_limit ? ` (${p.rate_limit})` : ''}
            </option>
          ))}
        </Select>
        <Field label="Nombre a la venta" name="nombre" required maxLength={100} />
        <Field label="Precio (MXN)" name="precio" type="number" min="0.01" step="0.01" required inputMode="decimal" />
        <Field label="Duración (minutos)" name="duracion" type="number" min="1" step="1" inputMode="numeric" hint="Vacío: sin límite de tiempo" />
        <Field label="Descripción" name="descripcion" maxLength={500} />
        <Check label="Destacado en el portal" name="destacado" />
      </div>
      <small id="perfiles-ayuda" className="muted">
        Los perfiles se leen del router en este momento.
      </small>
      <ErrorNote error={profiles.error} />
      <ErrorNote error={error} />
      <button type="submit" className="primary" disabled={busy || !profiles.data}>
        {busy ? 'Creando…' : 'Crear plan'}
      </button>
    </form>
  );
}

function EditPlan({ p, onDone }: { p: Product; onDone: () => void }) {
  const [error, setError] = useState<unknown>(null);
  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    try {
      unwrap(
        await api.PUT('/api/v1/admin/products/{producto_id}', {
          params: { path: { producto_id: p.id } },
          body: {
            nombre_venta: String(f.get('nombre')),
            precio: Number(f.get('precio')),
            duracion_minutos: String(f.get('duracion') ?? '').trim() ? Number(f.get('duracion')) : null,
            descripcion: String(f.get('descripcion') ?? '') || null,
            destacado: f.get('destacado') === 'on',
            activo: f.get('activo') === 'on',
          },
        }),
      );
      onDone();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <form className="inline-edit" onSubmit={(e) => void submit(e)} aria-label={`Editar ${p.nombre_venta}`}>
      <Field label="Nombre" name="nombre" defaultValue={p.nombre_venta} required />
      <Field label="Precio" name="precio" type="number" min="0.01" step="0.01" defaultValue={p.precio} required />
      <Field label="Duración (minutos)" name="duracion" type="number" min="1" step="1" inputMode="numeric" defaultValue={p.duracion_minutos ?? ''} hint="Vacío: sin límite de tiempo" />
      <Field label="Descripción" name="descripcion" maxLength={500} defaultValue={p.descripcion ?? ''} />
      <Check label="Destacado en el portal" name="destacado" defaultChecked={p.destacado} />
      <Check label="Activo" name="activo" defaultChecked={p.activo} />
      <ErrorNote error={error} />
      <button type="submit" className="primary">
        Guardar
      </button>
    </form>
  );
}

export function Plans() {
  const qc = useQueryClient();
  const [offset, setOffset] = useState(0);
  const [editing, setEditing] = useState<number | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const list = useQuery({
    queryKey: ['productos', offset],
    queryFn: async () => {
      const r = await api.GET('/api/v1/admin/products', { params: { query: { limit: PAGE, offset } } });
      const items = unwrap(r) as Product[];
      return { items, total: totalOf(r, items.length) };
    },
  });
  const routers = useMyRouters();
  const routerName = (id: string) => routers.data?.find((r) => r.id === id)?.nombre ?? id;
  const refresh = (m: string) => {
    setMsg(m);
    setEditing(null);
    void qc.invalidateQueries({ queryKey: ['productos'] });
  };
  const deactivate = useMutation({
    mutationFn: async (id: number) => unwrap(await api.DELETE('/api/v1/admin/products/{producto_id}', { params: { path: { producto_id: id } } })),
    onSuccess: () => refresh('Plan desactivado'),
  });

  return (
    <Page title="Planes">
      <NewPlan onDone={() => refresh('Plan creado')} />
      {msg ? <Notice>{msg}</Notice> : null}
      <ErrorNote error={list.error ?? deactivate.error} />
      {!list.data ? (
        <Loading />
      ) : (
        <>
          <DataTable
            label="Planes"
            rows={list.data.items}
            rowKey={(p) => p.id}
            columns={[
              {
                label: 'Plan',
                cell: (p) => (
                  <>
                    <strong>{p.nombre_venta}</strong>
                    {p.duracion_minutos ? <small className="muted"> · {p.duracion_minutos} min</small> : null}
                    {editing === p.id ? <EditPlan p={p} onDone={() => refresh('Plan actualizado')} /> : null}
                  </>
                ),
              },
              { label: 'Perfil', cell: (p) => p.perfil_mikrotik_nombre },
              { label: 'Router', cell: (p) => routerName(p.router_id) },
              { label: 'Precio', cell: (p) => fmtMoney(p.precio) },
              { label: 'Estado', cell: (p) => (p.activo ? 'Activo' : 'Inactivo') },
              {
                label: 'Acciones',
                className: 'actions',
                cell: (p) => (
                  <>
                    <button type="button" onClick={() => setEditing(editing === p.id ? null : p.id)} aria-expanded={editing === p.id}>
                      {editing === p.id ? 'Cerrar' : 'Editar'}
                    </button>
                    {p.activo ? (
                      <ConfirmButton
                        label="Desactivar"
                        question={`¿Desactivar el plan «${p.nombre_venta}»? Deja de venderse en el portal.`}
                        confirmLabel="Desactivar"
                        danger
                        onConfirm={() => deactivate.mutate(p.id)}
                      />
                    ) : null}
                  </>
                ),
              },
            ]}
          />
          <Pager total={list.data.total} offset={offset} onChange={setOffset} />
        </>
      )}
    </Page>
  );
}
