/** The shell: sign-in when there is no session, else the navigation of the admin's role and its screens. */
import { useEffect, useSyncExternalStore, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from './api/client';
import { DEFAULT_ZONE, Loading, setDisplayZone } from './ui';
import { getSession, isSuperAdmin, setSession, subscribe } from './session';
import { match, navigate, usePath } from './router';
import { Login } from './screens/Login';
import { Account } from './screens/Account';
import { Home } from './screens/company/Home';
import { Plans } from './screens/company/Plans';
import { Transactions, TransactionView } from './screens/company/Transactions';
import { CompanyRouters } from './screens/company/Routers';
import { Sessions } from './screens/company/Sessions';
import { Batches } from './screens/company/Batches';
import { Payments } from './screens/company/Payments';
import { Companies, CompanyView } from './screens/super/Companies';
import { Users } from './screens/super/Users';
import { Audit } from './screens/super/Audit';
import { Dashboard } from './screens/super/Dashboard';

const COMPANY_NAV: Array<[string, string]> = [
  ['/inicio', 'Inicio'],
  ['/planes', 'Planes'],
  ['/transacciones', 'Transacciones'],
  ['/lotes', 'Lotes'],
  ['/routers', 'Routers'],
  ['/sesiones', 'Sesiones activas'],
  ['/pagos', 'Pagos y avisos'],
];
const SUPER_NAV: Array<[string, string]> = [
  ['/super', 'Resumen'],
  ['/super/empresas', 'Empresas'],
  ['/super/usuarios', 'Administradores'],
  ['/super/auditoria', 'Auditoría'],
];

function companyScreen(path: string): ReactNode {
  let m: Record<string, string> | null;
  if (path === '/inicio') return <Home />;
  if (path === '/planes') return <Plans />;
  if (path === '/transacciones') return <Transactions />;
  if ((m = match('/transacciones/:id', path))) return <TransactionView id={Number(m.id)} />;
  if (path === '/lotes') return <Batches />;
  if (path === '/routers') return <CompanyRouters />;
  if (path === '/sesiones') return <Sessions />;
  if (path === '/pagos') return <Payments />;
  return null;
}

function superScreen(path: string): ReactNode {
  let m: Record<string, string> | null;
  if (path === '/super') return <Dashboard />;
  if (path === '/super/empresas') return <Companies />;
  if ((m = match('/super/empresas/:id', path))) return <CompanyView id={m.id} />;
  if (path === '/super/usuarios') return <Users />;
  if (path === '/super/auditoria') return <Audit />;
  return null;
}

export function App() {
  const session = useSyncExternalStore(subscribe, getSession);
  const path = usePath();
  const qc = useQueryClient();
  const sup = isSuperAdmin(session);
  const home = sup ? '/super' : '/inicio';
  // A company admin sees times in the company's zone (the same query the settings screen uses).
  const empresa = useQuery({ queryKey: ['mi-empresa'], enabled: !!session && !sup, queryFn: async () => unwrap(await api.GET('/api/v1/admin/mi-empresa')) });
  // Before the screens below render, so every time they format is in that zone.
  setDisplayZone(sup || !session ? DEFAULT_ZONE : (empresa.data?.zona_horaria ?? DEFAULT_ZONE));

  useEffect(() => {
    if (!session) qc.clear();
  }, [session, qc]);

  if (!session) return <Login />;

  const waitingZone = !sup && empresa.isPending;
  const screen = waitingZone ? <Loading /> : path === '/cuenta' ? <Account /> : sup ? superScreen(path) : companyScreen(path);
  const nav = sup ? SUPER_NAV : COMPANY_NAV;
  const signOut = async () => {
    await api.POST('/api/v1/auth/logout').catch(() => undefined);
    setSession(null, 'Sesión cerrada.');
    navigate('/');
  };

  return (
    <div className="shell">
      <a className="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Saltar al contenido
      </a>
      <header className="top">
        <span className="brand">Pagos Hotspot</span>
        <span className="who" title={session.user.email}>
          {session.user.nombre} · {sup ? 'Super admin' : 'Administrador'}
        </span>
        <nav aria-label="Principal" className="nav">
          <ul>
            {nav.map(([href, label]) => {
              const current = path === href || (href !== '/super' && path.startsWith(href + '/'));
              return (
                <li key={href}>
                  <a href={`#${href}`} aria-current={current ? 'page' : undefined}>
                    {label}
                  </a>
                </li>
              );
            })}
            <li>
              <a href="#/cuenta" aria-current={path === '/cuenta' ? 'page' : undefined}>
                Mi cuenta
              </a>
            </li>
            <li>
              <button type="button" className="link" onClick={() => void signOut()}>
                Cerrar sesión
              </button>
            </li>
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        {screen ?? <NotFound home={home} />}
      </main>
    </div>
  );
}

function NotFound({ home }: { home: string }) {
  useEffect(() => {
    // The root or a screen of the other role: go home (a company admin never sees super-admin screens).
    if (location.hash === '' || location.hash === '#/' || location.hash === '#') navigate(home);
  }, [home]);
  return (
    <section className="page">
      <h1>Página no disponible</h1>
      <p>
        Esta pantalla no existe o no está disponible para tu cuenta. <a href={`#${home}`}>Volver al inicio</a>
      </p>
    </section>
  );
}
