/**
 * Direct database fixtures for tests that need companies, routers and admins without going through the
 * super-admin API (which has its own tests). Rows are written the way the service writes them.
 */
import { randomBytes } from 'node:crypto';
import { empresas, routers, usuarios } from '../../src/infra/db/schema.js';
import type { AppContext } from '../../src/context.js';
import type { TestApp } from './app.js';

const hex = (n: number) => randomBytes(n).toString('hex').toUpperCase();

export interface EmpresaFixture {
  id: string;
  nombre: string;
}

export async function createEmpresa(ctx: AppContext, fields: Partial<typeof empresas.$inferInsert> = {}): Promise<EmpresaFixture> {
  const id = fields.id ?? `EMP_${hex(5)}`;
  const nombre = fields.nombre ?? `Empresa ${id}`;
  await ctx.db.orm.insert(empresas).values({
    conektaPrivateKey: ctx.secrets.general.encrypt('key_test_private_fixture')!,
    conektaPublicKey: 'key_test_public_fixture',
    contactoEmail: 'contacto@example.com',
    ...fields,
    id,
    nombre,
  });
  return { id, nombre };
}

export interface RouterFixture {
  id: string;
  empresaId: string;
  apiKey: string;
  keyId: string;
}

export async function createRouter(
  ctx: AppContext,
  empresaId: string,
  fields: Partial<typeof routers.$inferInsert> & { password?: string } = {},
): Promise<RouterFixture> {
  const id = fields.id ?? `RTR_${hex(4)}`;
  const { password, ...rest } = fields;
  const key = await ctx.routerKeys.mint(id, empresaId);
  await ctx.db.transaction(async (tx) => {
    await tx.insert(routers).values({
      nombre: `Router ${id}`,
      host: '127.0.0.1',
      puerto: 8728,
      usuario: 'admin',
      passwordEncrypted: ctx.secrets.general.encrypt(password ?? 'router-pass')!,
      ...rest,
      id,
      empresaId,
      apiKeyHash: key.keyHash,
    });
    await ctx.routerKeys.track(tx, key, id, empresaId);
  });
  return { id, empresaId, apiKey: key.apiKey, keyId: key.keyId };
}

export interface UserFixture {
  id: number;
  email: string;
  password: string;
}

export async function createUser(
  ctx: AppContext,
  fields: { email?: string; password?: string; rol?: 'super_admin' | 'cliente_admin'; empresaId?: string | null; nombre?: string; activo?: boolean } = {},
): Promise<UserFixture> {
  const email = fields.email ?? `user_${hex(4).toLowerCase()}@example.com`;
  const password = fields.password ?? 'Password123!';
  const [row] = await ctx.db.orm
    .insert(usuarios)
    .values({
      email,
      passwordHash: await ctx.passwords.hash(password),
      nombre: fields.nombre ?? 'Usuario de prueba',
      rol: fields.rol ?? 'cliente_admin',
      empresaId: fields.rol === 'super_admin' ? null : (fields.empresaId ?? null),
      activo: fields.activo ?? true,
    })
    .returning({ id: usuarios.id });
  return { id: row.id, email, password };
}

/** A company with one router (and key) and one logged-in company admin. */
export async function createTenant(t: TestApp) {
  const empresa = await createEmpresa(t.ctx);
  const router = await createRouter(t.ctx, empresa.id);
  const admin = await createUser(t.ctx, { rol: 'cliente_admin', empresaId: empresa.id });
  const token = await t.login(admin.email, admin.password);
  return { empresa, router, admin, token };
}
