import { useState, type FormEvent } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api, totalOf, unwrap } from '../../api/client';
import { ErrorNote, Field, Loading, PAGE, Page, Pager, fmtDate } from '../../ui';

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
          <table className="table responsive" aria-label="Registro de auditoría">
            <thead>
              <tr>
                <th scope="col">Fecha</th>
                <th scope="col">Quién</th>
                <th scope="col">Acción</th>
                <th scope="col">Recurso</th>
                <th scope="col">Empresa</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((a) => (
                <tr key={a.id}>
                  <td data-label="Fecha">{fmtDate(a.creado_en)}</td>
                  <td data-label="Quién">{a.usuario_email ?? '—'}</td>
                  <td data-label="Acción">
                    <code>{a.accion}</code>
                  </td>
                  <td data-label="Recurso">{[a.recurso, a.recurso_id].filter(Boolean).join(' ') || '—'}</td>
                  <td data-label="Empresa">{a.empresa_id ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager total={list.data.total} offset={offset} onChange={setOffset} />
        </>
      )}
    </Page>
  );
}
