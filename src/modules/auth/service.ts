/** Login, session checks, logout, password change and the super admin bootstrap. No HTTP types here. */
import { eq, sql } from 'drizzle-orm';
import type { AppContext } from '../../context.js';
import { empresas, usuarios } from '../../infra/db/schema.js';
import { ApiError, ValidationFailed, badRequest, unauthorized } from '../../infra/errors.js';
import { dateToDb, dateToNaiveIso } from '../../infra/time.js';
import { normalizeEmail } from './email.js';
import { passwordPolicyViolation } from './passwords.js';
import { limitRules } from '../../infra/failure-limiter.js';

export type Rol = 'super_admin' | 'cliente_admin';

export interface SessionUser {
  id: number;
  email: string;
  nombre: string;
  rol: Rol;
  empresaId: string | null;
  activo: boolean;
  sessionVersion: number;
}

const INVALID_CREDENTIALS = 'Credenciales incorrectas';

/** `user` object of the login response (legacy `UserResponse`). */
export function userResponse(u: { id: number; email: string; nombre: string; rol: string; empresaId: string | null; activo: boolean | null }) {
  const empresa = u.empresaId?.trim();
  return {
    id: u.id,
    email: u.email,
    nombre: u.nombre,
    rol: u.rol,
    empresa_id: !empresa || empresa.toLowerCase() === 'none' ? null : empresa,
    activo: u.activo !== false,
  };
}

const loginRules = (ctx: AppContext, account: string, ip: string) =>
  limitRules.login(account, ip, { maxPerAccount: ctx.config.loginMaxFailuresPerAccount, maxPerIp: ctx.config.loginMaxFailuresPerIp });

export async function login(ctx: AppContext, input: { email: string; password: string }, ip: string) {
  const parsed = normalizeEmail(input.email);
  if (!parsed.ok) {
    throw new ValidationFailed([
      { type: 'value_error', loc: ['body', 'email'], msg: `value is not a valid email address: ${parsed.reason}`, input: input.email, ctx: { reason: parsed.reason } },
    ]);
  }
  const account = parsed.email.toLowerCase();
  const rules = loginRules(ctx, account, ip);
  const wait = await ctx.loginLimiter.attempt(rules);
  if (wait > 0) {
    throw new ApiError(429, `Demasiados intentos fallidos. Intenta de nuevo en ${wait} segundos.`, 'rate_limited', { 'retry-after': String(wait) });
  }

  const [user] = await ctx.db.orm.select().from(usuarios).where(sql`lower(${usuarios.email}) = ${account}`).limit(1);
  // Unknown account, wrong password and inactive account take the same bcrypt time and give the same answer.
  const passwordOk = await ctx.passwords.verify(input.password, user?.passwordHash);
  if (!user || !passwordOk || user.activo === false) {
    await ctx.loginLimiter.recordFailure(rules);
    throw unauthorized(INVALID_CREDENTIALS, 'invalid_credentials');
  }
  if (user.rol === 'cliente_admin' && user.empresaId) {
    const [empresa] = await ctx.db.orm.select({ activa: empresas.activa }).from(empresas).where(eq(empresas.id, user.empresaId));
    if (!empresa || empresa.activa === false) {
      await ctx.loginLimiter.recordFailure(rules);
      throw unauthorized(INVALID_CREDENTIALS, 'invalid_credentials');
    }
  }
  await ctx.loginLimiter.recordSuccess(limitRules.loginSuccess(account, ip));
  await ctx.db.orm.update(usuarios).set({ ultimoLogin: dateToDb(new Date()) }).where(eq(usuarios.id, user.id));
  const { token, exp } = await ctx.sessions.mint(user);
  return {
    access_token: token,
    token_type: 'bearer',
    expires_at: dateToNaiveIso(new Date(exp * 1000)).replace(/\.\d+$/, ''),
    user: userResponse(user),
  };
}

/** Resolve a presented session token to its user; throws the legacy 401s. */
export async function authenticateSession(ctx: AppContext, token: string): Promise<SessionUser> {
  const result = await ctx.sessions.verify(token);
  if (!result.ok) throw unauthorized(result.reason === 'expired' ? 'Token expirado' : 'Token inválido', result.reason === 'expired' ? 'token_expired' : 'token_invalid');
  const rows = await ctx.db.orm
    .select({ user: usuarios, empresaActiva: empresas.activa })
    .from(usuarios)
    .leftJoin(empresas, eq(empresas.id, usuarios.empresaId))
    .where(eq(usuarios.id, Number(result.claims.sub)))
    .limit(1);
  const row = rows[0];
  if (!row || row.user.activo === false) throw unauthorized('Usuario no activo', 'user_inactive');
  if ((result.claims.sv ?? 0) !== row.user.sessionVersion) throw unauthorized('Token inválido', 'session_revoked');
  if (row.user.rol === 'cliente_admin' && row.empresaActiva !== true) throw unauthorized('Empresa no activa', 'empresa_inactive');
  const u = row.user;
  return { id: u.id, email: u.email, nombre: u.nombre, rol: u.rol as Rol, empresaId: u.empresaId, activo: u.activo !== false, sessionVersion: u.sessionVersion };
}

/** Revoke every session of the user issued so far (logout, password change, password reset). */
export async function revokeSessions(ctx: AppContext, userId: number): Promise<void> {
  await ctx.db.orm.update(usuarios).set({ sessionVersion: sql`${usuarios.sessionVersion} + 1` }).where(eq(usuarios.id, userId));
}

export async function changePassword(ctx: AppContext, user: SessionUser, input: { current_password: string; new_password: string }, ip: string) {
  const account = user.email.toLowerCase();
  const rules = loginRules(ctx, account, ip);
  const wait = await ctx.loginLimiter.attempt(rules);
  if (wait > 0) {
    throw new ApiError(429, `Demasiados intentos fallidos. Intenta de nuevo en ${wait} segundos.`, 'rate_limited', { 'retry-after': String(wait) });
  }
  const [row] = await ctx.db.orm.select({ hash: usuarios.passwordHash }).from(usuarios).where(eq(usuarios.id, user.id));
  if (!(await ctx.passwords.verify(input.current_password, row?.hash))) {
    await ctx.loginLimiter.recordFailure(rules);
    throw badRequest('Contraseña actual incorrecta', 'wrong_password');
  }
  const policy = passwordPolicyViolation(input.new_password);
  if (policy) throw badRequest(policy, 'weak_password');
  const hash = await ctx.passwords.hash(input.new_password);
  const [updated] = await ctx.db.orm
    .update(usuarios)
    .set({ passwordHash: hash, sessionVersion: sql`${usuarios.sessionVersion} + 1` })
    .where(eq(usuarios.id, user.id))
    .returning();
  // Earlier sessions are revoked; hand the caller a fresh one so it can carry on.
  const { token } = await ctx.sessions.mint(updated);
  return { message: 'Contraseña actualizada exitosamente', access_token: token, token_type: 'bearer' };
}

/** Create the configured super admin when no user has that email. Idempotent and race-safe. */
export async function bootstrapSuperAdmin(ctx: AppContext): Promise<void> {
  const parsed = normalizeEmail(ctx.config.superAdminEmail);
  if (!parsed.ok) {
    ctx.logger.error({ reason: parsed.reason }, 'SUPER_ADMIN_INITIAL_EMAIL no es un email válido; no se creó el super admin');
    return;
  }
  const email = parsed.email;
  const [existing] = await ctx.db.orm.select({ id: usuarios.id }).from(usuarios).where(sql`lower(${usuarios.email}) = ${email.toLowerCase()}`).limit(1);
  if (existing) return;
  const hash = await ctx.passwords.hash(ctx.config.superAdminPassword);
  const inserted = await ctx.db.orm
    .insert(usuarios)
    .values({ email, passwordHash: hash, nombre: 'Super Administrador', rol: 'super_admin', empresaId: null, activo: true })
    .onConflictDoNothing()
    .returning({ id: usuarios.id });
  if (inserted.length > 0) ctx.logger.info({ email }, 'super admin inicial creado');
}

