import { useState, type FormEvent } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api, totalOf, unwrap } from '../../api/client';
import { DataTable, ErrorNote, Field, Loading, PAGE, Page, Pager, fmtDate } from '../../ui';

export function Audit() {
  const [filters, setFilters] = useState<{ empresa_id?: string; accion?: string }>({});
  const [offset, setOffset] = useState(0);
  const list = useQuery({
    queryKey: ['auditoria', filters, offset],
    queryFn: async () => {
      const r = await api.GET('/admin/auditoria', { params: { query: { limit: PAGE, offset, ...filters } } });
      const items = unwrap(r);
      return { items, total: totalOf(r, items.length) };
    },
  });
  function apply(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setFilters({ empresa_id: String(f.get('empresa_id') ?? '').trim() || undefined, accion: String(f.get('accion') ?? '').trim() || undefined });
    setOffset(0);
  }
  return (
    <Page title="Auditoría">
      <form className="card filters" onSubmit={apply} aria-label="Filtros">
        <div className="grid">
          <Field label="ID de empresa" name="empresa_id" maxLength={50} />
          <Field label="Acción" name="accion" maxLength={100} placeholder="p. ej. router.crear" />
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
          <DataTable
            label="Registro de auditoría"
            rows={list.data.items}
            rowKey={(a) => a.id}
            columns={[
              { label: 'Fecha', cell: (a) => fmtDate(a.creado_en) },
              { label: 'Quién', cell: (a) => a.usuario_email ?? '—' },
              {
                label: 'Acción',
                cell: (a) => (
                  <>
                    <code>{a.accion}</code>
                  </>
                ),
              },
              { label: 'Recurso', cell: (a) => [a.recurso, a.recurso_id].filter(Boolean).join(' ') || '—' },
              { label: 'Empresa', cell: (a) => a.empresa_id ?? '—' },
            ]}
          />
          <Pager total={list.data.total} offset={offset} onChange={setOffset} />
        </>
      )}
    </Page>
  );
}
