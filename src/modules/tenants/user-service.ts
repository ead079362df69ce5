/**
 * Admin users as the super admin manages them (legacy-admin.md §3.4, plus edit and password reset).
 * Emails are normalised exactly as login normalises them, and unique regardless of case.
 */
import { and, asc, count, eq, ne, sql, type SQL } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../infra/db/index.js';
import { empresas, usuarios } from '../../infra/db/schema.js';
import { ValidationFailed, badRequest, isUniqueViolation, notFound } from '../../infra/errors.js';
import { normalizeEmail } from '../auth/email.js';
import { passwordPolicyViolation } from '../auth/passwords.js';
import { userResponse } from '../auth/service.js';
import type { AuditActor } from './audit.js';
import { EMPRESA_NOT_FOUND } from './empresa-service.js';

type UserRow = typeof usuarios.$inferSelect;

const ROLES = ['super_admin', 'cliente_admin'] as const;
const USER_NOT_FOUND = 'Usuario no encontrado';
const EMAIL_TAKEN = 'El email ya está registrado';

const userNotFound = () => notFound(USER_NOT_FOUND, 'user_not_found');
const emailTaken = () => badRequest(EMAIL_TAKEN, 'email_taken');
const blankToNull = (s: string | null | undefined) => (s && s.trim() !== '' ? s.trim() : null);

function parseEmail(input: string): string {
  const parsed = normalizeEmail(input);
  if (!parsed.ok) {
    throw new ValidationFailed([
      { type: 'value_error', loc: ['body', 'email'], msg: `value is not a valid email address: ${parsed.reason}`, input, ctx: { reason: parsed.reason } },
    ]);
  }
  return parsed.email;
}

/** The legacy rol/empresa rule (the table's CHECK), with its 400/404 answers. */
async function checkRoleAndEmpresa(ctx: AppContext, rol: string, empresaId: string | null): Promise<void> {
  if (!(ROLES as readonly string[]).includes(rol)) throw badRequest("Rol inválido. Debe ser 'super_admin' o 'cliente_admin'", 'invalid_role');
  if (rol === 'cliente_admin') {
    if (!empresaId) throw badRequest('cliente_admin requiere empresa_id', 'empresa_required');
    const [e] = await ctx.db.orm.select({ id: empresas.id }).from(empresas).where(eq(empresas.id, empresaId)).limit(1);
    if (!e) throw notFound(EMPRESA_NOT_FOUND, 'empresa_not_found');
  } else if (empresaId) {
    throw badRequest('super_admin no debe tener empresa_id', 'empresa_not_allowed');
  }
}

async function emailInUse(executor: Executor, email: string, exceptId?: number): Promise<boolean> {
  const cond: SQL[] = [sql`lower(${usuarios.email}) = ${email.toLowerCase()}`];
  if (exceptId !== undefined) cond.push(ne(usuarios.id, exceptId));
  const [row] = await executor.select({ id: usuarios.id }).from(usuarios).where(and(...cond)).limit(1);
  return !!row;
}

export interface UserCreateInput {
  email: string;
  password: string;
  nombre: string;
  rol: string;
  empresa_id?: string | null;
}

export async function createUser(ctx: AppContext, actor: AuditActor, input: UserCreateInput) {
  const email = parseEmail(input.email);
  const empresaId = blankToNull(input.empresa_id);
  // Legacy order of checks: role, company, duplicate email; then our password policy.
  await checkRoleAndEmpresa(ctx, input.rol, empresaId);
  if (await emailInUse(ctx.db.orm, email)) throw emailTaken();
  const policy = passwordPolicyViolation(input.password);
  if (policy) throw badRequest(policy, 'weak_password');
  const passwordHash = await ctx.passwords.hash(input.password);
  try {
    const row = await ctx.db.transaction(async (tx) => {
      const [inserted] = await tx
        .insert(usuarios)
        .values({ email, passwordHash, nombre: input.nombre, rol: input.rol, empresaId: input.rol === 'super_admin' ? null : empresaId, activo: true })
        .returning();
      await ctx.audit.record(
        actor,
        { accion: 'usuario.crear', empresaId: inserted.empresaId, recurso: 'usuario', recursoId: inserted.id, detalles: { email, rol: inserted.rol } },
        tx,
      );
      return inserted;
    });
    return { message: 'Usuario creado exitosamente', usuario: userResponse(row) };
  } catch (err) {
    // The check above races with a simultaneous creation; the unique index settles it.
    if (isUniqueViolation(err)) throw emailTaken();
    throw err;
  }
}

export interface UserFilter {
  rol?: string;
  empresa_id?: string;
}

export async function listUsers(ctx: AppContext, filter: UserFilter, limit: number, offset: number) {
  const cond: SQL[] = [];
  const rol = blankToNull(filter.rol);
  const empresaId = blankToNull(filter.empresa_id);
  if (rol) cond.push(eq(usuarios.rol, rol));
  if (empresaId) cond.push(eq(usuarios.empresaId, empresaId));
  const where = cond.length > 0 ? and(...cond) : undefined;
  const [rows, [{ total }]] = await Promise.all([
    ctx.db.orm.select().from(usuarios).where(where).orderBy(asc(usuarios.id)).limit(limit).offset(offset),
    ctx.db.orm.select({ total: count() }).from(usuarios).where(where),
  ]);
  return { items: rows.map(userResponse), total: Number(total) };
}

async function findUser(executor: Executor, id: number): Promise<UserRow> {
  const [row] = await executor.select().from(usuarios).where(eq(usuarios.id, id)).limit(1);
  if (!row) throw userNotFound();
  return row;
}

export async function getUser(ctx: AppContext, id: number) {
  return userResponse(await findUser(ctx.db.orm, id));
}

/** Flip `activo` (never your own account); deactivation also revokes the user's sessions. */
export async function toggleUser(ctx: AppContext, actor: AuditActor, id: number) {
  const activo = await ctx.db.transaction(async (tx) => {
    const [user] = await tx.select().from(usuarios).where(eq(usuarios.id, id)).for('update');
    if (!user) throw userNotFound();
    if (user.id === actor.usuarioId) throw badRequest('No puedes desactivar tu propio usuario', 'cannot_toggle_self');
    const next = user.activo === false;
    await tx
      .update(usuarios)
      .set(next ? { activo: true } : { activo: false, sessionVersion: sql`${usuarios.sessionVersion} + 1` })
      .where(eq(usuarios.id, id));
    await ctx.audit.record(actor, { accion: next ? 'usuario.activar' : 'usuario.desactivar', empresaId: user.empresaId, recurso: 'usuario', recursoId: id }, tx);
    return next;
  });
  return { message: activo ? 'Usuario activado' : 'Usuario desactivado', usuario_id: id, activo };
}

export interface UserUpdateInput {
  nombre?: string;
  email?: string;
  rol?: string;
  empresa_id?: string | null;
}

/**
 * Edit name, email, role and company (fields present in the body). The resulting role/company pair
 * must satisfy the legacy rule; a change of email, role or company revokes the user's sessions.
 */
export async function updateUser(ctx: AppContext, actor: AuditActor, id: number, input: UserUpdateInput) {
  const current = await findUser(ctx.db.orm, id);
  const email = input.email !== undefined ? parseEmail(input.email) : current.email;
  const rol = input.rol ?? current.rol;
  const empresaId = input.empresa_id !== undefined ? blankToNull(input.empresa_id) : current.empresaId;
  if (id === actor.usuarioId && rol !== current.rol) throw badRequest('No puedes cambiar tu propio rol', 'cannot_change_own_role');
  if (input.rol !== undefined || input.empresa_id !== undefined) await checkRoleAndEmpresa(ctx, rol, empresaId);
  if (email !== current.email && (await emailInUse(ctx.db.orm, email, id))) throw emailTaken();

  const changes: Partial<typeof usuarios.$inferInsert> = {};
  if (input.nombre !== undefined && input.nombre !== current.nombre) changes.nombre = input.nombre;
  if (email !== current.email) changes.email = email;
  if (rol !== current.rol) changes.rol = rol;
  if (empresaId !== current.empresaId) changes.empresaId = empresaId;
  const campos = Object.keys(changes).map((k) => (k === 'empresaId' ? 'empresa_id' : k));
  if (campos.length === 0) return { message: 'Usuario actualizado correctamente', usuario: userResponse(current) };
  const identityChanged = changes.email !== undefined || changes.rol !== undefined || changes.empresaId !== undefined;
  const set: PgUpdateSetSource<typeof usuarios> = identityChanged ? { ...changes, sessionVersion: sql`${usuarios.sessionVersion} + 1` } : changes;

  try {
    const row = await ctx.db.transaction(async (tx) => {
      const [updated] = await tx.update(usuarios).set(set).where(eq(usuarios.id, id)).returning();
      if (!updated) throw userNotFound();
      const detalles: Record<string, unknown> = { campos };
      if (changes.email !== undefined) detalles.email = { antes: current.email, despues: email };
      if (changes.rol !== undefined) detalles.rol = { antes: current.rol, despues: rol };
      if (changes.empresaId !== undefined) detalles.empresa_id = { antes: current.empresaId, despues: empresaId };
      await ctx.audit.record(actor, { accion: 'usuario.actualizar', empresaId: updated.empresaId ?? current.empresaId, recurso: 'usuario', recursoId: id, detalles }, tx);
      return updated;
    });
    return { message: 'Usuario actualizado correctamente', usuario: userResponse(row) };
  } catch (err) {
    if (isUniqueViolation(err)) throw emailTaken();
    throw err;
  }
}

/** Set another user's password (policy applies) and revoke every session they hold. */
export async function resetPassword(ctx: AppContext, actor: AuditActor, id: number, newPassword: string) {
  if (id === actor.usuarioId) {
    throw badRequest('Para cambiar tu propia contraseña usa /api/v1/auth/change-password', 'cannot_reset_own_password');
  }
  const user = await findUser(ctx.db.orm, id);
  const policy = passwordPolicyViolation(newPassword);
  if (policy) throw badRequest(policy, 'weak_password');
  const passwordHash = await ctx.passwords.hash(newPassword);
  await ctx.db.transaction(async (tx) => {
    const [updated] = await tx
      .update(usuarios)
      .set({ passwordHash, sessionVersion: sql`${usuarios.sessionVersion} + 1` })
      .where(eq(usuarios.id, id))
      .returning({ id: usuarios.id });
    if (!updated) throw userNotFound();
    await ctx.audit.record(actor, { accion: 'usuario.restablecer_password', empresaId: user.empresaId, recurso: 'usuario', recursoId: id }, tx);
  });
  return { message: 'Contraseña restablecida correctamente', usuario_id: id };
}
