import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, download, totalOf, unwrap } from '../../api/client';
import { ErrorNote, Field, Loading, Notice, PAGE, Page, Pager, Progress, Select, fmtDate } from '../../ui';

/** Download a router's portal kit (it issues a new router key, revoking the old one) with progress. */
export function KitButton({ routerId }: { routerId: string }) {
  const [pasarela, setPasarela] = useState('auto');
  const [progress, setProgress] = useState<{ bytes: number; total: number | null } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  async function go() {
    if (!window.confirm('El kit trae una API key nueva: la anterior del router deja de funcionar. ¿Continuar?')) return;
    setError(null);
    setDone(false);
    setProgress({ bytes: 0, total: null });
    try {
      await download(`/api/v1/admin/routers/${encodeURIComponent(routerId)}/portal-kit?pasarela=${pasarela}`, 'portal-kit.zip', (bytes, total) => setProgress({ bytes, total }));
      setDone(true);
    } catch (err) {
      setError(err);
    } finally {
      setProgress(null);
    }
  }
  return (
    <div className="kit">
      <Select label="Pasarela del portal" value={pasarela} onChange={(e) => setPasarela(e.target.value)}>
        <option value="auto">Automática</option>
        <option value="conekta">Conekta</option>
        <option value="mercado_pago">Mercado Pago</option>
      </Select>
      <button type="button" onClick={() => void go()} disabled={!!progress}>
        Descargar kit del portal
      </button>
      {progress ? <Progress label="Generando kit" {...progress} /> : null}
      {done ? <Notice>Kit descargado. Súbelo a la carpeta hotspot del router.</Notice> : null}
      <ErrorNote error={error} />
    </div>
  );
}

/** The hotspot's login address the printed QR codes open (empty: the router's hotspot profile dns-name). */
function LoginAddress({ routerId, value }: { routerId: string; value: string | null }) {
  const qc = useQueryClient();
  const [text, setText] = useState(value ?? '');
  const save = useMutation({
    mutationFn: async (dns_name: string) => unwrap(await api.PUT('/api/v1/admin/mi-empresa/routers/{router_id}', { params: { path: { router_id: routerId } }, body: { dns_name } })),
    onSuccess: (data) => {
      // What was stored (lower-cased), not what was typed.
      setText(data.router.dns_name ?? '');
      void qc.invalidateQueries({ queryKey: ['mis-routers-pag'] });
    },
  });
  return (
    <form
      className="login-address"
      onSubmit={(ev: FormEvent<HTMLFormElement>) => {
        ev.preventDefault();
        save.mutate(text.trim());
      }}
    >
      <Field
        label="Dirección de acceso del hotspot"
        name="dns"
        value={text}
        onChange={(e) => setText(e.target.value)}
        placeholder="p. ej. wifi.mi-negocio.com"
        autoComplete="off"
        hint="La abren los códigos QR de las fichas impresas. Vacía: se lee el dns-name del perfil del hotspot en el router."
      />
      <button type="submit" disabled={save.isPending}>
        Guardar dirección
      </button>
      {save.data ? <Notice>{save.data.router.dns_name ? `Dirección guardada: ${save.data.router.dns_name}` : 'Se usará el dns-name del router'}</Notice> : null}
      <ErrorNote error={save.error} />
    </form>
  );
}

function RouterCard({ r }: { r: { id: string; nombre: string; host: string; ubicacion: string | null; activo: boolean; dns_name: string | null } }) {
  const status = useQuery({
    queryKey: ['router-estado', r.id],
    queryFn: async () => unwrap(await api.GET('/api/v1/admin/mi-empresa/routers/{router_id}/estado', { params: { path: { router_id: r.id } } })),
  });
  const test = useMutation({
    mutationFn: async () => unwrap(await api.GET('/api/v1/admin/routers/{router_id}/test-connection', { params: { path: { router_id: r.id } } })),
    onSettled: () => void status.refetch(),
  });
  const s = status.data;
  return (
    <article className="card" aria-labelledby={`r-${r.id}`}>
      <h2 id={`r-${r.id}`}>{r.nombre}</h2>
      <p className="muted">
        {r.host}
        {r.ubicacion ? ` · ${r.ubicacion}` : ''} · {r.activo ? 'Activo' : 'Inactivo'}
      </p>
      {s ? (
        <p>
          {s.sin_conexion ? <span className="badge b-rechazada">Sin conexión</span> : <span className="badge b-entregada">En línea</span>} Último contacto: {fmtDate(s.ultimo_contacto)}
          {s.circuito !== 'closed' ? ` · circuito ${s.circuito === 'open' ? 'abierto' : 'en prueba'}` : ''}
          {s.ultimo_error && s.sin_conexion ? ` · ${s.ultimo_error}` : ''}
        </p>
      ) : null}
      <button type="button" onClick={() => test.mutate()} disabled={test.isPending}>
        {test.isPending ? 'Probando…' : 'Probar conexión'}
      </button>
      {test.data ? (
        <p role="status" className={test.data.success ? 'ok' : 'error'}>
          {test.data.success ? `Conexión exitosa: ${test.data.router_name ?? ''}, ${test.data.perfiles_encontrados} perfiles` : test.data.error}
        </p>
      ) : null}
      <ErrorNote error={test.error ?? status.error} />
      <LoginAddress routerId={r.id} value={r.dns_name} />
      <KitButton routerId={r.id} />
    </article>
  );
}

export function CompanyRouters() {
  const [offset, setOffset] = useState(0);
  const list = useQuery({
    queryKey: ['mis-routers-pag', offset],
    queryFn: async () => {
      const r = await api.GET('/api/v1/admin/mi-empresa/routers', { params: { query: { limit: PAGE, offset } } });
      const d = unwrap(r);
      return { items: d.routers, total: totalOf(r, d.total) };
    },
  });
  return (
    <Page title="Routers">
      <ErrorNote error={list.error} />
      {!list.data ? <Loading /> : list.data.items.map((r) => <RouterCard key={r.id} r={r} />)}
      {list.data ? <Pager total={list.data.total} offset={offset} onChange={setOffset} /> : null}
    </Page>
  );
}
