import { useState } from 'react';
import { useMutation, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../api/client';
import { ConfirmButton, ErrorNote, Loading, Notice, PAGE, Page, Pager, Select } from '../../ui';
import { useMyRouters } from './common';

export function Sessions() {
  const routers = useMyRouters();
  const [chosen, setChosen] = useState('');
  const [offset, setOffset] = useState(0);
  const rid = chosen || routers.data?.[0]?.id || '';
  const sessions = useQuery({
    queryKey: ['sesiones', rid],
    enabled: !!rid,
    queryFn: async () => unwrap(await api.GET('/api/v1/admin/routers/{router_id}/sesiones', { params: { path: { router_id: rid } } })),
  });
  const disconnect = useMutation({
    mutationFn: async (sesion_id: string) => unwrap(await api.POST('/api/v1/admin/routers/{router_id}/sesiones/desconectar', { params: { path: { router_id: rid } }, body: { sesion_id } })),
    onSettled: () => void sessions.refetch(),
  });
  const rows = sessions.data ?? [];
  return (
    <Page
      title="Sesiones activas"
      actions={
        <button type="button" onClick={() => void sessions.refetch()} disabled={sessions.isFetching}>
          Actualizar
        </button>
      }
    >
      <Select
        label="Router"
        value={rid}
        onChange={(e) => {
          setChosen(e.target.value);
          setOffset(0);
        }}
      >
        {routers.data?.map((r) => (
          <option key={r.id} value={r.id}>
            {r.nombre}
          </option>
        ))}
      </Select>
      <ErrorNote error={sessions.error ?? disconnect.error ?? routers.error} />
      {disconnect.isSuccess ? <Notice>Sesión desconectada. La ficha sigue vigente.</Notice> : null}
      {sessions.isLoading ? <Loading what="Consultando el router…" /> : null}
      {sessions.data ? (
        <>
          <table className="table responsive" aria-label="Sesiones activas">
            <thead>
              <tr>
                <th scope="col">Ficha</th>
                <th scope="col">Dirección</th>
                <th scope="col">MAC</th>
                <th scope="col">Tiempo</th>
                <th scope="col">Restante</th>
                <th scope="col">Acción</th>
              </tr>
            </thead>
            <tbody>
              {rows.slice(offset, offset + PAGE).map((s) => (
                <tr key={s.id}>
                  <td data-label="Ficha">{s.usuario ?? '—'}</td>
                  <td data-label="Dirección">{s.direccion ?? '—'}</td>
                  <td data-label="MAC">{s.mac ?? '—'}</td>
                  <td data-label="Tiempo">{s.tiempo_activo ?? '—'}</td>
                  <td data-label="Restante">{s.tiempo_restante ?? '—'}</td>
                  <td data-label="Acción">
                    <ConfirmButton label="Desconectar" danger question={`¿Desconectar a ${s.usuario ?? 'este dispositivo'} (${s.direccion ?? ''})? Podrá volver a entrar con su ficha.`} confirmLabel="Desconectar" onConfirm={() => disconnect.mutate(s.id)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {rows.length === 0 ? <p className="muted">No hay dispositivos conectados.</p> : null}
          <Pager total={rows.length} offset={offset} onChange={setOffset} />
        </>
      ) : null}
    </Page>
  );
}
