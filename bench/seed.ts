/**
 * Seed a running service with one company, one router (pointing at the simulated router), its products and
 * a company admin — through the HTTP API where the endpoint exists (super-admin and company-admin APIs),
 * else directly in the database the way the service writes rows (same secrets, same key minting).
 */
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/infra/logging.js';
import { openDatabase } from '../src/infra/db/index.js';
import { createContext, type AppContext } from '../src/context.js';
import { createEmpresa, createRouter, createUser } from '../test/helpers/fixtures.js';
import { productos } from '../src/infra/db/schema.js';
import { SUPER_ADMIN, bearer, http } from './harness.js';

export interface SeedOptions {
  routerHost: string;
  routerPort: number;
  routerUser: string;
  routerPassword: string;
  /** Hotspot user profiles that exist on the (simulated) router; products sell them. */
  profiles: string[];
  products: number;
  /** Mark every product as selling PIN vouchers, etc. (optional extra fields for product creation). */
  conektaPrivateKey?: string;
  conektaPublicKey?: string;
}

export interface Seeded {
  empresaId: string;
  routerId: string;
  routerKey: string;
  admin: { email: string; password: string; token: string };
  superAdminToken: string;
  productIds: number[];
  /** Which steps used the API and which fell back to SQL. */
  via: Record<string, 'api' | 'sql'>;
}

const PRODUCT_NAMES = ['1 hora', '3 horas', '1 día', '3 días', '1 semana', '1 mes', '2 horas', '12 horas'];

export function productBody(routerId: string, i: number, profile: string) {
  return {
    router_id: routerId,
    perfil_mikrotik_id: `*${i + 1}`,
    perfil_mikrotik_nombre: profile,
    nombre_venta: `Acceso ${PRODUCT_NAMES[i % PRODUCT_NAMES.length]}`,
    descripcion: 'Internet de alta velocidad, conexión inmediata tras el pago.',
    imagen_url: null,
    precio: [10, 25, 49.99, 99, 150, 399.5, 19.99, 35][i % 8],
    moneda: 'MXN',
    detalles: [{ texto: '• Conexión inmediata' }, { texto: '• Hasta 10 Mbps' }, { texto: '• Soporte 24/7' }],
    activo: true,
    orden_visual: i,
    destacado: i === 1,
  };
}

export async function seed(baseUrl: string, env: Record<string, string>, opts: SeedOptions): Promise<Seeded> {
  const via: Seeded['via'] = {};
  const doc = await http(baseUrl, 'GET', '/openapi.json');
  const paths = new Set(Object.keys((doc.data?.paths ?? {}) as Record<string, unknown>));
  const has = (p: string, method: string) => paths.has(p) && !!doc.data.paths[p][method.toLowerCase()];

  const sa = await http(baseUrl, 'POST', '/api/v1/auth/login', { body: SUPER_ADMIN });
  if (sa.status !== 200) throw new Error(`login del super admin: ${sa.status} ${JSON.stringify(sa.data)}`);
  const superAdminToken = sa.data.access_token as string;
  const sah = bearer(superAdminToken);

  let ctx: AppContext | null = null;
  const sqlCtx = async () => {
    if (ctx) return ctx;
    const config = loadConfig(env);
    const logger = createLogger('silent');
    const db = await openDatabase(config.database, { poolSize: 2, logger });
    ctx = await createContext(config, logger, db);
    return ctx;
  };

  try {
    const conektaPrivateKey = opts.conektaPrivateKey ?? 'key_test_bench_private_0123456789';
    const conektaPublicKey = opts.conektaPublicKey ?? 'key_test_bench_public_0123456789';
    let empresaId: string;
    if (has('/admin/empresas', 'POST')) {
      const r = await http(baseUrl, 'POST', '/admin/empresas', {
        headers: sah,
        body: { nombre: 'Hotspot Bench', contacto_email: 'bench@example.com', conekta_private_key: conektaPrivateKey, conekta_public_key: conektaPublicKey, conekta_mode: 'test' },
      });
      if (r.status !== 200 && r.status !== 201) throw new Error(`POST /admin/empresas: ${r.status} ${JSON.stringify(r.data)}`);
      empresaId = r.data.id;
      via.empresa = 'api';
    } else {
      const c = await sqlCtx();
      empresaId = (
        await createEmpresa(c, { nombre: 'Hotspot Bench', conektaPrivateKey: c.secrets.general.encrypt(conektaPrivateKey)!, conektaPublicKey, conektaMode: 'test' })
      ).id;
      via.empresa = 'sql';
    }

    let routerId: string;
    let routerKey: string;
    if (has('/admin/empresas/{empresa_id}/routers', 'POST')) {
      const r = await http(baseUrl, 'POST', `/admin/empresas/${empresaId}/routers`, {
        headers: sah,
        body: { empresa_id: empresaId, nombre: 'Router Bench', host: opts.routerHost, puerto: opts.routerPort, usuario: opts.routerUser, password: opts.routerPassword, ubicacion: 'Laboratorio' },
      });
      if (r.status !== 200 && r.status !== 201) throw new Error(`POST routers: ${r.status} ${JSON.stringify(r.data)}`);
      routerId = r.data.id;
      routerKey = r.data.api_key;
      via.router = 'api';
    } else {
      const c = await sqlCtx();
      const r = await createRouter(c, empresaId, { nombre: 'Router Bench', host: opts.routerHost, puerto: opts.routerPort, usuario: opts.routerUser, password: opts.routerPassword, ubicacion: 'Laboratorio' });
      routerId = r.id;
      routerKey = r.apiKey;
      via.router = 'sql';
    }

    const admin = { email: 'bench-admin@example.com', password: 'BenchAdmin123!', token: '' };
    if (has('/admin/usuarios', 'POST')) {
      const r = await http(baseUrl, 'POST', '/admin/usuarios', { headers: sah, body: { email: admin.email, password: admin.password, nombre: 'Admin Bench', rol: 'cliente_admin', empresa_id: empresaId } });
      if (r.status !== 200 && r.status !== 201) throw new Error(`POST /admin/usuarios: ${r.status} ${JSON.stringify(r.data)}`);
      via.admin = 'api';
    } else {
      await createUser(await sqlCtx(), { email: admin.email, password: admin.password, rol: 'cliente_admin', empresaId, nombre: 'Admin Bench' });
      via.admin = 'sql';
    }
    const login = await http(baseUrl, 'POST', '/api/v1/auth/login', { body: { email: admin.email, password: admin.password } });
    if (login.status !== 200) throw new Error(`login del admin: ${login.status} ${JSON.stringify(login.data)}`);
    admin.token = login.data.access_token;

    const productIds: number[] = [];
    const useApi = has('/api/v1/admin/products', 'POST');
    via.products = useApi ? 'api' : 'sql';
    for (let i = 0; i < opts.products; i++) {
      const body = productBody(routerId, i, opts.profiles[i % opts.profiles.length]);
      if (useApi) {
        const r = await http(baseUrl, 'POST', '/api/v1/admin/products', { headers: bearer(admin.token), body });
        if (r.status !== 201 && r.status !== 200) throw new Error(`POST /api/v1/admin/products: ${r.status} ${JSON.stringify(r.data)}`);
        productIds.push(r.data.id);
      } else {
        const c = await sqlCtx();
        const [row] = await c.db.orm
          .insert(productos)
          .values({
            empresaId,
            routerId,
            perfilMikrotikId: body.perfil_mikrotik_id,
            perfilMikrotikNombre: body.perfil_mikrotik_nombre,
            nombreVenta: body.nombre_venta,
            descripcion: body.descripcion,
            precio: body.precio.toFixed(2),
            moneda: body.moneda,
            detalles: body.detalles,
            activo: true,
            ordenVisual: body.orden_visual,
            destacado: body.destacado,
          })
          .returning({ id: productos.id });
        productIds.push(row.id);
      }
    }
    return { empresaId, routerId, routerKey, admin, superAdminToken, productIds, via };
  } finally {
    const c = ctx as AppContext | null;
    if (c) {
      await c.stop();
      await c.db.close();
    }
  }
}

/** Another router of the seeded company with one product (purchases are rate-limited per router key). */
export async function addRouterWithProduct(
  baseUrl: string,
  env: Record<string, string>,
  seeded: Seeded,
  opts: { routerHost: string; routerPort: number; routerUser: string; routerPassword: string; profile: string; nombre: string },
): Promise<{ routerId: string; routerKey: string; productId: number }> {
  const r = await http(baseUrl, 'POST', `/admin/empresas/${seeded.empresaId}/routers`, {
    headers: bearer(seeded.superAdminToken),
    body: { empresa_id: seeded.empresaId, nombre: opts.nombre, host: opts.routerHost, puerto: opts.routerPort, usuario: opts.routerUser, password: opts.routerPassword },
  });
  let routerId: string;
  let routerKey: string;
  if (r.status === 200 || r.status === 201) {
    routerId = r.data.id;
    routerKey = r.data.api_key;
  } else {
    const config = loadConfig(env);
    const logger = createLogger('silent');
    const db = await openDatabase(config.database, { poolSize: 2, logger });
    const ctx = await createContext(config, logger, db);
    try {
      const made = await createRouter(ctx, seeded.empresaId, { nombre: opts.nombre, host: opts.routerHost, puerto: opts.routerPort, usuario: opts.routerUser, password: opts.routerPassword });
      routerId = made.id;
      routerKey = made.apiKey;
    } finally {
      await ctx.stop();
      await db.close();
    }
  }
  const p = await http(baseUrl, 'POST', '/api/v1/admin/products', { headers: bearer(seeded.admin.token), body: productBody(routerId, 0, opts.profile) });
  if (p.status !== 201 && p.status !== 200) throw new Error(`POST /api/v1/admin/products: ${p.status} ${JSON.stringify(p.data)}`);
  return { routerId, routerKey, productId: p.data.id };
}
