/** Counter batches: create one for a plan, follow its delivery to the router and its sales, print it, void it. */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, download, unwrap } from '../../api/client';
import { DataTable, ConfirmButton, ErrorNote, Field, Loading, Notice, PAGE, Page, Pager, Select, StateBadge, fmtDate, fmtMoney } from '../../ui';

const FORMATS = [
  ['a4', 'A4'],
  ['58mm', 'Rollo 58 mm'],
  ['80mm', 'Rollo 80 mm'],
] as const;

function PdfButtons({ id }: { id: number }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  async function get(formato: string) {
    setError(null);
    setBusy(formato);
    try {
      await download(`/api/v1/admin/lotes/${id}/pdf?formato=${formato}`, `lote-${id}-${formato}.pdf`, () => undefined);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  }
  return (
    <>
      <div className="actions">
        {FORMATS.map(([f, label]) => (
          <button key={f} type="button" disabled={busy !== null} onClick={() => void get(f)} aria-label={`PDF ${label} del lote ${id}`}>
            {busy === f ? 'Generando…' : label}
          </button>
        ))}
      </div>
      <ErrorNote error={error} />
    </>
  );
}

export function Batches() {
  const qc = useQueryClient();
  const [offset, setOffset] = useState(0);
  const plans = useQuery({ queryKey: ['planes-lote'], queryFn: async () => unwrap(await api.GET('/api/v1/admin/products', { params: { query: { limit: 200, offset: 0 } } })) });
  const list = useQuery({
    queryKey: ['lotes', offset],
    queryFn: async () => unwrap(await api.GET('/api/v1/admin/lotes', { params: { query: { limit: PAGE, offset } } })),
    // Delivery to the router is in progress: follow it.
    refetchInterval: (q) => (q.state.data?.lotes.some((l) => l.estado === 'generado' && l.progreso < 1) ? 1500 : false),
  });
  const create = useMutation({
    mutationFn: async (body: { producto_id: number; cantidad: number; prefijo?: string }) => unwrap(await api.POST('/api/v1/admin/lotes', { body })),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['lotes'] }),
  });
  const voidBatch = useMutation({
    mutationFn: async (id: number) => unwrap(await api.POST('/api/v1/admin/lotes/{id}/anular', { params: { path: { id } } })),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['lotes'] }),
  });

  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const prefijo = String(f.get('prefijo') ?? '').trim();
    create.mutate({ producto_id: Number(f.get('producto')), cantidad: Number(f.get('cantidad')), ...(prefijo ? { prefijo } : {}) });
  }

  return (
    <Page title="Lotes para mostrador">
      <form className="card" aria-labelledby="h-nuevo-lote" onSubmit={submit}>
        <h2 id="h-nuevo-lote">Nuevo lote</h2>
        <div className="grid">
          <Select label="Plan" name="producto" required>
            {(plans.data ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {p.nombre_venta} · {fmtMoney(Number(p.precio))}
              </option>
            ))}
          </Select>
          <Field label="Cantidad" name="cantidad" type="number" min={1} max={5000} defaultValue={50} required />
          <Field label="Prefijo" name="prefijo" defaultValue="PT-" maxLength={10} hint="Letras, dígitos, - o _ (hasta 10)" />
        </div>
        <ErrorNote error={create.error ?? plans.error} />
        {create.data ? <Notice>Lote {create.data.id} creado: sus fichas se están cargando al router.</Notice> : null}
        <button type="submit" className="primary" disabled={create.isPending}>
          Crear lote
        </button>
      </form>
      <p className="muted">Una ficha se cuenta como venta en efectivo el día de su primer uso, al precio del plan cuando se hizo el lote.</p>
      <ErrorNote error={list.error ?? voidBatch.error} />
      {!list.data ? (
        <Loading />
      ) : (
        <>
          <DataTable
            label="Lotes"
            rows={list.data.lotes}
            rowKey={(l) => l.id}
            rowProps={(l) => ({ 'data-lote': l.id })}
            columns={[
              {
                label: 'Lote',
                cell: (l) => (
                  <>
                    {l.id} · {l.prefijo}
                  </>
                ),
              },
              {
                label: 'Plan',
                cell: (l) => (
                  <>
                    {l.plan} · {fmtMoney(l.precio)}
                  </>
                ),
              },
              { label: 'Creado', cell: (l) => fmtDate(l.creado_en) },
              {
                label: 'Estado',
                cell: (l) => (
                  <>
                    <StateBadge value={l.estado} />
                  </>
                ),
              },
              {
                label: 'En el router',
                cell: (l) => (
                  <>
                    <progress max={l.cantidad} value={l.en_router} aria-label={`Fichas del lote ${l.id} en el router`} /> {l.en_router} de {l.cantidad}
                  </>
                ),
              },
              {
                label: 'Vendidas',
                cell: (l) => (
                  <>
                    {l.fichas.vendido + l.fichas.expirado} de {l.cantidad}
                    {l.fichas.expirado ? ` (${l.fichas.expirado} vencidas)` : ''}
                    {l.fichas.anulado ? ` · ${l.fichas.anulado} anuladas` : ''}
                  </>
                ),
              },
              {
                label: 'Imprimir',
                cell: (l) => (
                  <>
                    <PdfButtons id={l.id} />
                  </>
                ),
              },
              {
                label: 'Anular',
                cell: (l) => (
                  <>
                    {l.estado === 'anulado' ? (
                      '—'
                    ) : (
                      <ConfirmButton
                        label="Anular"
                        danger
                        question={`¿Anular el lote ${l.id}? Sus fichas sin usar se borran del router; las ya usadas siguen vigentes.`}
                        confirmLabel="Anular lote"
                        onConfirm={() => voidBatch.mutate(l.id)}
                      />
                    )}
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
