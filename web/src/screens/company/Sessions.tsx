import { useState } from 'react';
import { useMutation, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../api/client';
import { DataTable, ConfirmButton, ErrorNote, Loading, Notice, PAGE, Page, Pager, Select } from '../../ui';
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
          <DataTable
            label="Sesiones activas"
            rows={rows.slice(offset, offset + PAGE)}
            rowKey={(s) => s.id}
            columns={[
              { label: 'Ficha', cell: (s) => s.usuario ?? '—' },
              { label: 'Dirección', cell: (s) => s.direccion ?? '—' },
              { label: 'MAC', cell: (s) => s.mac ?? '—' },
              { label: 'Tiempo', cell: (s) => s.tiempo_activo ?? '—' },
              { label: 'Restante', cell: (s) => s.tiempo_restante ?? '—' },
              {
                label: 'Acción',
                cell: (s) => (
                  <>
                    <ConfirmButton
                      label="Desconectar"
                      danger
                      question={`¿Desconectar a ${s.usuario ?? 'este dispositivo'} (${s.direccion ?? ''})? Podrá volver a entrar con su ficha.`}
                      confirmLabel="Desconectar"
                      onConfirm={() => disconnect.mutate(s.id)}
                    />
                  </>
                ),
              },
            ]}
          />
          {rows.length === 0 ? <p className="muted">No hay dispositivos conectados.</p> : null}
          <Pager total={rows.length} offset={offset} onChange={setOffset} />
        </>
      ) : null}
    </Page>
  );
}
