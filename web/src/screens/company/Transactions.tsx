import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, download, unwrap } from '../../api/client';
import { DataTable, ConfirmButton, ErrorNote, Field, Loading, Notice, PAGE, Page, Pager, Progress, Select, StateBadge, displayZone, fmtDate, fmtMoney, zoneLabel } from '../../ui';
import { useMyRouters } from './common';

type Filters = { desde?: string; hasta?: string; estado?: string; router_id?: string; pasarela?: 'conekta' | 'mercado_pago'; q?: string };

const ESTADOS = ['iniciada', 'cobrada', 'entregada', 'en_revision', 'rechazada', 'reembolsada', 'reembolso_parcial'];

export function Transactions() {
  const [filters, setFilters] = useState<Filters>({});
  const [offset, setOffset] = useState(0);
  const [progress, setProgress] = useState<{ bytes: number; total: number | null } | null>(null);
  const [csvError, setCsvError] = useState<unknown>(null);
  const routers = useMyRouters();
  const list = useQuery({
    queryKey: ['transacciones', filters, offset],
    queryFn: async () => unwrap(await api.GET('/api/v1/admin/mi-empresa/transacciones', { params: { query: { limit: PAGE, offset, ...filters } } })),
  });

  function apply(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const v = (k: string) => String(f.get(k) ?? '').trim() || undefined;
    setFilters({ desde: v('desde'), hasta: v('hasta'), estado: v('estado'), router_id: v('router_id'), pasarela: v('pasarela') as Filters['pasarela'], q: v('q') });
    setOffset(0);
  }

  async function exportCsv() {
    setCsvError(null);
    setProgress({ bytes: 0, total: null });
    const qs = new URLSearchParams(Object.entries(filters).filter(([, v]) => v) as Array<[string, string]>);
    try {
      await download(`/api/v1/admin/mi-empresa/transacciones.csv?${qs}`, 'transacciones.csv', (bytes, total) => setProgress({ bytes, total }));
    } catch (err) {
      setCsvError(err);
    } finally {
      setProgress(null);
    }
  }

  return (
    <Page
      title="Transacciones"
      actions={
        <button type="button" onClick={() => void exportCsv()} disabled={!!progress}>
          Exportar CSV
        </button>
      }
    >
      {progress ? <Progress label="Descargando CSV" {...progress} /> : null}
      <ErrorNote error={csvError} />
      <form className="card filters" onSubmit={apply} aria-label="Filtros">
        <div className="grid">
          <Field label="Desde" name="desde" type="date" />
          <Field label="Hasta" name="hasta" type="date" />
          <Select label="Estado" name="estado" defaultValue="">
            <option value="">Todos</option>
            {ESTADOS.map((s) => (
              <option key={s} value={s}>
                {s.replace(/_/g, ' ')}
              </option>
            ))}
          </Select>
          <Select label="Router" name="router_id" defaultValue="">
            <option value="">Todos</option>
            {routers.data?.map((r) => (
              <option key={r.id} value={r.id}>
                {r.nombre}
              </option>
            ))}
          </Select>
          <Select label="Pasarela" name="pasarela" defaultValue="">
            <option value="">Todas</option>
            <option value="conekta">Conekta</option>
            <option value="mercado_pago">Mercado Pago</option>
          </Select>
          <Field label="Buscar" name="q" placeholder="Cliente, ficha, referencia" />
        </div>
        <button type="submit" className="primary">
          Filtrar
        </button>
      </form>
      <ErrorNote error={list.error} />
      {!list.data ? (
        <Loading />
      ) : (
        <>
          <p className="muted">Horas en {zoneLabel(displayZone())}.</p>
          <DataTable
            label="Transacciones"
            rows={list.data.transacciones}
            rowKey={(t) => t.id}
            columns={[
              { label: 'Fecha', cell: (t) => fmtDate(t.creada_en) },
              { label: 'Cliente', cell: (t) => t.cliente_nombre ?? t.cliente_email ?? '—' },
              { label: 'Monto', cell: (t) => fmtMoney(t.monto) },
              {
                label: 'Estado',
                cell: (t) => (
                  <>
                    <StateBadge value={t.estado ?? t.estado_pago} />
                  </>
                ),
              },
              { label: 'Ficha', cell: (t) => t.usuario_hotspot ?? '—' },
              {
                label: 'Detalle',
                cell: (t) => (
                  <>
                    <a href={`#/transacciones/${t.id}`} aria-label={`Ver transacción ${t.id}`}>
                      Ver
                    </a>
                  </>
                ),
              },
            ]}
          />
          {list.data.transacciones.length === 0 ? <p className="muted">No hay transacciones con estos filtros.</p> : null}
          <Pager total={list.data.total} offset={offset} onChange={setOffset} />
        </>
      )}
    </Page>
  );
}

const REFUNDABLE = new Set(['entregada', 'cobrada', 'reembolso_parcial', 'en_revision']);

export function TransactionView({ id }: { id: number }) {
  const qc = useQueryClient();
  const [motivo, setMotivo] = useState('');
  const detail = useQuery({
    queryKey: ['transaccion', id],
    queryFn: async () => unwrap(await api.GET('/api/v1/admin/mi-empresa/transacciones/{id}', { params: { path: { id } } })),
  });
  const refund = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST('/api/v1/admin/mi-empresa/transacciones/{id}/reembolso', { params: { path: { id } }, body: { motivo: motivo || null } })) as unknown as { message: string },
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['transaccion', id] });
      void qc.invalidateQueries({ queryKey: ['transacciones'] });
      void qc.invalidateQueries({ queryKey: ['ventas'] });
    },
  });
  const d = detail.data;
  const t = d?.transaccion;

  return (
    <Page title={`Transacción ${id}`} actions={<a href="#/transacciones">‹ Volver a transacciones</a>}>
      <ErrorNote error={detail.error} />
      {!t ? (
        detail.isLoading ? (
          <Loading />
        ) : null
      ) : (
        <>
          <dl className="card facts">
            <dt>Estado</dt>
            <dd>
              <StateBadge value={t.estado} /> <small className="muted">pasarela: {t.estado_pago ?? '—'}</small>
            </dd>
            <dt>Monto</dt>
            <dd>
              {fmtMoney(t.monto)}
              {t.monto_reembolsado > 0 ? ` (reembolsado ${fmtMoney(t.monto_reembolsado)})` : ''}
            </dd>
            <dt>Plan</dt>
            <dd>{t.producto_nombre ?? t.perfil_hotspot ?? '—'}</dd>
            <dt>Ficha</dt>
            <dd>{t.usuario_hotspot ?? '—'}</dd>
            <dt>Router</dt>
            <dd>{t.router_nombre ?? t.router_id}</dd>
            <dt>Pasarela</dt>
            <dd>
              {t.pasarela ?? '—'} {t.transaccion_id ? <small className="muted">({t.transaccion_id})</small> : null}
            </dd>
            <dt>Cliente</dt>
            <dd>{[t.cliente_nombre, t.cliente_email, t.cliente_telefono].filter(Boolean).join(' · ') || '—'}</dd>
            <dt>Creada</dt>
            <dd>{fmtDate(t.creada_en)}</dd>
            <dt>Pagada</dt>
            <dd>{fmtDate(t.pagada_en)}</dd>
            {t.reembolsada_en ? (
              <>
                <dt>Reembolsada</dt>
                <dd>{fmtDate(t.reembolsada_en)}</dd>
              </>
            ) : null}
            {t.error_detalle ? (
              <>
                <dt>Error</dt>
                <dd>{t.error_detalle}</dd>
              </>
            ) : null}
          </dl>
          {t.estado && REFUNDABLE.has(t.estado) ? (
            <div className="card">
              <h2>Reembolso</h2>
              <ConfirmButton
                label="Reembolsar"
                danger
                disabled={refund.isPending}
                question={`¿Reembolsar ${fmtMoney(t.monto)} a ${t.cliente_nombre ?? 'el cliente'}? Se devuelve el dinero en la pasarela y la ficha ${t.usuario_hotspot ?? ''} se da de baja en el router.`}
                confirmLabel="Sí, reembolsar"
                onConfirm={() => refund.mutate()}
              >
                <Field label="Motivo (opcional)" value={motivo} onChange={(e) => setMotivo(e.target.value)} maxLength={500} />
              </ConfirmButton>
            </div>
          ) : null}
          {/* Outside the card: the refreshed transaction is no longer refundable, the outcome stays visible. */}
          {refund.isPending ? <Loading what="Reembolsando…" /> : null}
          {refund.data ? <Notice>{refund.data.message}</Notice> : null}
          <ErrorNote error={refund.error} />
          <div className="card">
            <h2>Historial</h2>
            <ol className="timeline" aria-label="Historial de la transacción">
              {d.historial.map((h, i) => (
                <li key={i}>
                  <time>{fmtDate(h.en)}</time>{' '}
                  {h.tipo === 'pasarela' ? (
                    <span>
                      Pasarela: {h.estado_pago_anterior ?? '—'} → <strong>{h.estado_pago_nuevo}</strong>
                    </span>
                  ) : (
                    <span>
                      Estado: {h.estado_anterior ? `${h.estado_anterior} → ` : ''}
                      <strong>{h.estado_nuevo}</strong>
                      {h.estado_pago_nuevo !== h.estado_pago_anterior && h.estado_anterior ? ` (pasarela: ${h.estado_pago_nuevo})` : ''}
                    </span>
                  )}
                  {h.detalle ? <small className="muted"> · {h.detalle}</small> : null}
                </li>
              ))}
            </ol>
            {d.historial.length === 0 ? <p className="muted">Sin cambios registrados (venta anterior al historial).</p> : null}
            <h3>Trabajos</h3>
            {d.trabajos.length === 0 ? <p className="muted">Sin trabajos pendientes ni recientes.</p> : null}
            <ul>
              {d.trabajos.map((j) => (
                <li key={j.id}>
                  {j.tipo.replace('pagos.', '')}: {j.estado} · {j.intentos} intento(s){j.ultimo_error ? ` · ${j.ultimo_error}` : ''}
                </li>
              ))}
            </ul>
          </div>
        </>
      )}
    </Page>
  );
}
