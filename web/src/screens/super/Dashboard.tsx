import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../api/client';
import { ErrorNote, Loading, Page } from '../../ui';

export function Dashboard() {
  const d = useQuery({ queryKey: ['dashboard'], queryFn: async () => unwrap(await api.GET('/admin/dashboard')) });
  const s = d.data?.estadisticas;
  return (
    <Page title="Resumen de la plataforma">
      <ErrorNote error={d.error} />
      {!s ? (
        <Loading />
      ) : (
        <div className="kpis">
          <div className="kpi">
            <span>Empresas</span>
            <strong>{s.total_empresas}</strong>
            <small>{s.empresas_activas} activas</small>
          </div>
          <div className="kpi">
            <span>Administradores</span>
            <strong>{s.total_usuarios}</strong>
          </div>
        </div>
      )}
      <p>
        <a href="#/super/empresas">Administrar empresas</a> · <a href="#/super/usuarios">Administradores</a> · <a href="#/super/auditoria">Auditoría</a>
      </p>
    </Page>
  );
}
