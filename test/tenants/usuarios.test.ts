/**
 * Super admin: admin users (legacy-admin.md §3.4; legacy-transcript.md entries 22–29, 72, 95–96), with
 * the fixes (email normalised like login and unique regardless of case, password policy, deactivation
 * revokes sessions) and the new edit and password reset.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { SUPER_ADMIN, bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { createEmpresa, createUser, type EmpresaFixture } from '../helpers/fixtures.js';
import { usuarios } from '../../src/infra/db/schema.js';
import { asAdmin } from './helpers.js';

const USER_KEYS = ['id', 'email', 'nombre', 'rol', 'empresa_id', 'activo'];

describe('super admin: usuarios', () => {
  let t: TestApp;
  let sa: ReturnType<typeof asAdmin>;
  let empresa: EmpresaFixture;
  let saId: number;
  before(async () => {
    t = await startTestApp();
    sa = asAdmin(t, await t.superAdminToken());
    empresa = await createEmpresa(t.ctx);
    saId = (await t.ctx.db.orm.select().from(usuarios).where(eq(usuarios.email, SUPER_ADMIN.email)))[0].id;
  });
  after(async () => t.close());

  const login = (email: string, password: string) => t.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
  const sessionWorks = async (token: string) =>
    (await t.request({ method: 'POST', url: '/api/v1/auth/change-password', headers: bearer(token), payload: { current_password: 'x', new_password: 'y' } })).statusCode !== 401;
  const create = (body: Record<string, unknown>) => sa.post('/admin/usuarios', body);
  const clienteBody = (email: string, extra: Record<string, unknown> = {}) => ({ email, password: 'ClienteAdmin123!', nombre: 'Admin Demo', rol: 'cliente_admin', empresa_id: empresa.id, ...extra });

  describe('POST /admin/usuarios (entries 22–25)', () => {
    it('creates a cliente_admin with the legacy response; it can log in', async () => {
      const res = await create(clienteBody('admin@demo.example.com'));
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(Object.keys(res.data), ['message', 'usuario']);
      assert.equal(res.data.message, 'Usuario creado exitosamente');
      assert.deepEqual(Object.keys(res.data.usuario), USER_KEYS);
      assert.deepEqual(res.data.usuario, { id: res.data.usuario.id, email: 'admin@demo.example.com', nombre: 'Admin Demo', rol: 'cliente_admin', empresa_id: empresa.id, activo: true });
      assert.equal((await login('admin@demo.example.com', 'ClienteAdmin123!')).statusCode, 200);
      const [row] = await t.ctx.db.orm.select().from(usuarios).where(eq(usuarios.id, res.data.usuario.id));
      assert.match(row.passwordHash, /^\$2b\$04\$/);
    });

    it('creates a super_admin (empresa_id null; an empty string counts as none)', async () => {
      const res = await create({ email: 'otro.super@example.com', password: 'SuperAdmin456!', nombre: 'Otro', rol: 'super_admin', empresa_id: '' });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.data.usuario.empresa_id, null);
      assert.equal(res.data.usuario.rol, 'super_admin');
    });

    it('duplicate email → 400 "El email ya está registrado" (entry 23), also in another case (fixed)', async () => {
      await create(clienteBody('dup@demo.example.com'));
      for (const email of ['dup@demo.example.com', 'dup@DEMO.example.COM', 'DUP@demo.example.com', ' dup@demo.example.com ']) {
        const res = await create(clienteBody(email, { password: 'x' }));
        assert.equal(res.statusCode, 400, email);
        assert.deepEqual(res.data, { detail: 'El email ya está registrado', code: 'email_taken' });
      }
    });

    it('cliente_admin without empresa_id → 400 (entry 24); unknown empresa → 404', async () => {
      const res = await create({ email: 'x2@demo.example.com', password: 'x', nombre: 'X', rol: 'cliente_admin' });
      assert.equal(res.statusCode, 400);
      assert.equal(res.data.detail, 'cliente_admin requiere empresa_id');
      const unknown = await create(clienteBody('x3@demo.example.com', { empresa_id: 'EMP_NOPE' }));
      assert.equal(unknown.statusCode, 404);
      assert.equal(unknown.data.detail, 'Empresa no encontrada');
    });

    it('invalid rol → 400 (entry 25); super_admin with empresa_id → 400', async () => {
      const res = await create({ email: 'x3@demo.example.com', password: 'x', nombre: 'X', rol: 'root' });
      assert.equal(res.statusCode, 400);
      assert.equal(res.data.detail, "Rol inválido. Debe ser 'super_admin' o 'cliente_admin'");
      const sup = await create({ email: 'x4@demo.example.com', password: 'Password123!', nombre: 'X', rol: 'super_admin', empresa_id: empresa.id });
      assert.equal(sup.statusCode, 400);
      assert.equal(sup.data.detail, 'super_admin no debe tener empresa_id');
    });

    it('password policy: fewer than 8 characters → 400', async () => {
      const res = await create(clienteBody('weak@demo.example.com', { password: 'short' }));
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.data, { detail: 'La contraseña debe tener al menos 8 caracteres', code: 'weak_password' });
      assert.equal((await t.ctx.db.query("SELECT 1 FROM usuarios WHERE email = 'weak@demo.example.com'")).length, 0);
    });

    it('emails are validated like login: invalid or special-use → 422', async () => {
      for (const email of ['not-an-email', 'x@host.local', 'x@localhost', 'a@b']) {
        const res = await create(clienteBody(email));
        assert.equal(res.statusCode, 422, email);
        assert.deepEqual(res.data.detail[0].loc, ['body', 'email']);
        assert.match(res.data.detail[0].msg, /^value is not a valid email address: /);
      }
    });

    it('a mixed-case domain is normalised like login, so the user can log in (entries 95–96, fixed)', async () => {
      const res = await create(clienteBody('Mixed@Demo.Example.COM', { password: 'Mixed123!' }));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.data.usuario.email, 'Mixed@demo.example.com');
      assert.equal((await login('Mixed@Demo.Example.COM', 'Mixed123!')).statusCode, 200);
    });

    it('missing and over-length fields → 422', async () => {
      const missing = await create({});
      assert.equal(missing.statusCode, 422);
      assert.deepEqual(missing.data.detail.map((d: { loc: string[] }) => d.loc[1]).sort(), ['email', 'nombre', 'password', 'rol']);
      const longName = await create(clienteBody('long@demo.example.com', { nombre: 'n'.repeat(101) }));
      assert.equal(longName.statusCode, 422);
      const longEmail = await create(clienteBody(`${'a'.repeat(64)}@${'b'.repeat(40)}.example.com`));
      assert.equal(longEmail.statusCode, 422, 'over 100 characters once normalised');
      const longRol = await create(clienteBody('r@demo.example.com', { rol: 'r'.repeat(21) }));
      assert.equal(longRol.statusCode, 422);
    });
  });

  describe('GET /admin/usuarios (entries 26–28)', () => {
    it('lists in the legacy shape with filters, X-Total-Count and paging', async () => {
      const other = await createEmpresa(t.ctx);
      await createUser(t.ctx, { empresaId: other.id });
      await createUser(t.ctx, { empresaId: other.id });
      const all = await sa.get('/admin/usuarios');
      assert.equal(all.statusCode, 200);
      for (const u of all.data) assert.deepEqual(Object.keys(u), USER_KEYS);
      assert.equal(Number(all.headers['x-total-count']), all.data.length);
      assert.equal(all.data[0].id, saId);

      const byEmpresa = await sa.get(`/admin/usuarios?empresa_id=${other.id}`);
      assert.equal(byEmpresa.data.length, 2);
      assert.equal(byEmpresa.headers['x-total-count'], '2');
      const supers = await sa.get('/admin/usuarios?rol=super_admin');
      assert.ok(supers.data.every((u: { rol: string }) => u.rol === 'super_admin'));
      const ignored = await sa.get('/admin/usuarios?rol=&empresa_id=');
      assert.equal(ignored.data.length, all.data.length, 'empty filters are ignored');
      const page = await sa.get('/admin/usuarios?limit=1&offset=1');
      assert.deepEqual(page.data, [all.data[1]]);
      assert.equal((await sa.get('/admin/usuarios?limit=0')).statusCode, 422);
      assert.equal((await sa.get('/admin/usuarios?offset=-5')).statusCode, 422);
    });

    it('gets one user; unknown → 404 "Usuario no encontrado"; non-integer or out-of-range id → 422', async () => {
      const u = await createUser(t.ctx, { empresaId: empresa.id });
      const res = await sa.get(`/admin/usuarios/${u.id}`);
      assert.equal(res.statusCode, 200);
      assert.deepEqual(Object.keys(res.data), USER_KEYS);
      assert.equal(res.data.email, u.email);
      const missing = await sa.get('/admin/usuarios/999999');
      assert.equal(missing.statusCode, 404);
      assert.deepEqual(missing.data, { detail: 'Usuario no encontrado', code: 'user_not_found' });
      for (const id of ['abc', '99999999999', '0']) {
        const bad = await sa.get(`/admin/usuarios/${id}`);
        assert.equal(bad.statusCode, 422, id);
        assert.deepEqual(bad.data.detail[0].loc, ['path', 'usuario_id']);
      }
    });
  });

  describe('PUT /admin/usuarios/{id}/toggle-activo (entry 72)', () => {
    it('refuses your own account → 400 "No puedes desactivar tu propio usuario"', async () => {
      const res = await sa.put(`/admin/usuarios/${saId}/toggle-activo`);
      assert.equal(res.statusCode, 400);
      assert.equal(res.data.detail, 'No puedes desactivar tu propio usuario');
    });

    it('deactivation stops the user at once and revokes their sessions; activation lets them log in again', async () => {
      const u = await createUser(t.ctx, { empresaId: empresa.id });
      const token = await t.login(u.email, u.password);
      assert.equal(await sessionWorks(token), true);
      const off = await sa.put(`/admin/usuarios/${u.id}/toggle-activo`);
      assert.deepEqual(off.data, { message: 'Usuario desactivado', usuario_id: u.id, activo: false });
      const refused = await t.request({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(token) });
      assert.equal(refused.statusCode, 401);
      assert.equal(refused.data.detail, 'Usuario no activo');
      assert.equal((await login(u.email, u.password)).statusCode, 401);

      const on = await sa.put(`/admin/usuarios/${u.id}/toggle-activo`);
      assert.deepEqual(on.data, { message: 'Usuario activado', usuario_id: u.id, activo: true });
      assert.equal(await sessionWorks(token), false, 'the old session stays revoked');
      assert.equal((await login(u.email, u.password)).statusCode, 200);
      assert.equal((await sa.put('/admin/usuarios/999999/toggle-activo')).statusCode, 404);
    });
  });

  describe('PUT /admin/usuarios/{id} (new)', () => {
    it('edits the name only; sessions survive', async () => {
      const u = await createUser(t.ctx, { empresaId: empresa.id });
      const token = await t.login(u.email, u.password);
      const res = await sa.put(`/admin/usuarios/${u.id}`, { nombre: 'Nuevo Nombre' });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(Object.keys(res.data), ['message', 'usuario']);
      assert.equal(res.data.message, 'Usuario actualizado correctamente');
      assert.equal(res.data.usuario.nombre, 'Nuevo Nombre');
      assert.equal(await sessionWorks(token), true);
    });

    it('edits the email (normalised, unique regardless of case); old sessions are revoked; login uses the new one', async () => {
      const u = await createUser(t.ctx, { empresaId: empresa.id });
      const other = await createUser(t.ctx, { empresaId: empresa.id });
      const token = await t.login(u.email, u.password);
      const taken = await sa.put(`/admin/usuarios/${u.id}`, { email: other.email.toUpperCase() });
      assert.equal(taken.statusCode, 400);
      assert.equal(taken.data.detail, 'El email ya está registrado');
      const invalid = await sa.put(`/admin/usuarios/${u.id}`, { email: 'nope' });
      assert.equal(invalid.statusCode, 422);

      const res = await sa.put(`/admin/usuarios/${u.id}`, { email: 'Renamed@Example.ORG' });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.data.usuario.email, 'Renamed@example.org');
      assert.equal(await sessionWorks(token), false);
      assert.equal((await login('renamed@example.org', u.password)).statusCode, 200);
      assert.equal((await login(u.email, u.password)).statusCode, 401);
      // Changing only the case of your own address is not a conflict with yourself.
      const same = await sa.put(`/admin/usuarios/${u.id}`, { email: 'RENAMED@example.org' });
      assert.equal(same.statusCode, 200, same.body);
    });

    it('role and company follow the legacy rule with clear 400s', async () => {
      const u = await createUser(t.ctx, { empresaId: empresa.id });
      const promoteKeepingEmpresa = await sa.put(`/admin/usuarios/${u.id}`, { rol: 'super_admin' });
      assert.equal(promoteKeepingEmpresa.statusCode, 400);
      assert.equal(promoteKeepingEmpresa.data.detail, 'super_admin no debe tener empresa_id');
      const badRol = await sa.put(`/admin/usuarios/${u.id}`, { rol: 'root' });
      assert.equal(badRol.data.detail, "Rol inválido. Debe ser 'super_admin' o 'cliente_admin'");
      const noEmpresa = await sa.put(`/admin/usuarios/${u.id}`, { empresa_id: null });
      assert.equal(noEmpresa.statusCode, 400);
      assert.equal(noEmpresa.data.detail, 'cliente_admin requiere empresa_id');
      const unknown = await sa.put(`/admin/usuarios/${u.id}`, { empresa_id: 'EMP_NOPE' });
      assert.equal(unknown.statusCode, 404);
      assert.equal(unknown.data.detail, 'Empresa no encontrada');

      const moved = await createEmpresa(t.ctx);
      const move = await sa.put(`/admin/usuarios/${u.id}`, { empresa_id: moved.id });
      assert.equal(move.statusCode, 200);
      assert.equal(move.data.usuario.empresa_id, moved.id);
      const promote = await sa.put(`/admin/usuarios/${u.id}`, { rol: 'super_admin', empresa_id: null });
      assert.equal(promote.statusCode, 200, promote.body);
      assert.deepEqual([promote.data.usuario.rol, promote.data.usuario.empresa_id], ['super_admin', null]);
    });

    it('you cannot change your own role; unknown user → 404; bad bodies → 422', async () => {
      const own = await sa.put(`/admin/usuarios/${saId}`, { rol: 'cliente_admin', empresa_id: empresa.id });
      assert.equal(own.statusCode, 400);
      assert.equal(own.data.detail, 'No puedes cambiar tu propio rol');
      assert.equal((await sa.put('/admin/usuarios/999999', { nombre: 'x' })).statusCode, 404);
      for (const body of [{ nombre: '' }, { nombre: 'n'.repeat(101) }, { nombre: null }]) {
        assert.equal((await sa.put(`/admin/usuarios/${saId}`, body)).statusCode, 422, JSON.stringify(body));
      }
    });
  });

  describe('POST /admin/usuarios/{id}/reset-password (new)', () => {
    it('sets a new password and revokes every session of the user', async () => {
      const u = await createUser(t.ctx, { empresaId: empresa.id });
      const token = await t.login(u.email, u.password);
      const weak = await sa.post(`/admin/usuarios/${u.id}/reset-password`, { new_password: 'short' });
      assert.equal(weak.statusCode, 400);
      assert.equal(weak.data.detail, 'La contraseña debe tener al menos 8 caracteres');
      assert.equal(await sessionWorks(token), true, 'a refused reset changes nothing');

      const res = await sa.post(`/admin/usuarios/${u.id}/reset-password`, { new_password: 'NuevaClave2024!' });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.data, { message: 'Contraseña restablecida correctamente', usuario_id: u.id });
      assert.equal(await sessionWorks(token), false);
      assert.equal((await login(u.email, u.password)).statusCode, 401);
      assert.equal((await login(u.email, 'NuevaClave2024!')).statusCode, 200);
    });

    it('not for yourself (400), unknown user 404, missing body 422', async () => {
      const own = await sa.post(`/admin/usuarios/${saId}/reset-password`, { new_password: 'Whatever123!' });
      assert.equal(own.statusCode, 400);
      assert.equal((await sa.post('/admin/usuarios/999999/reset-password', { new_password: 'Whatever123!' })).statusCode, 404);
      const missing = await sa.post(`/admin/usuarios/${saId}/reset-password`, {});
      assert.equal(missing.statusCode, 422);
      assert.deepEqual(missing.data.detail[0].loc, ['body', 'new_password']);
    });
  });

  describe('audit', () => {
    it('user writes are audited; passwords never appear', async () => {
      const res = await create(clienteBody('audited@demo.example.com', { password: 'AuditedSecret99!' }));
      const id = res.data.usuario.id;
      await sa.put(`/admin/usuarios/${id}`, { nombre: 'Otro' });
      await sa.post(`/admin/usuarios/${id}/reset-password`, { new_password: 'AuditedSecret100!' });
      await sa.put(`/admin/usuarios/${id}/toggle-activo`);
      const audit = await sa.get('/admin/auditoria?limit=20');
      const mine = audit.data.filter((a: { recurso: string; recurso_id: string }) => a.recurso === 'usuario' && a.recurso_id === String(id));
      assert.deepEqual(mine.map((a: { accion: string }) => a.accion), ['usuario.desactivar', 'usuario.restablecer_password', 'usuario.actualizar', 'usuario.crear']);
      assert.ok(mine.every((a: { usuario_id: number }) => a.usuario_id === saId));
      assert.ok(!audit.body.includes('AuditedSecret'));
      assert.ok(!audit.body.includes('$2b$'));
    });

    it('GET /admin/auditoria: newest first, who/what/when/IP, filters, X-Total-Count, bounded paging', async () => {
      for (let i = 0; i < 3; i++) await sa.post('/admin/empresas', { nombre: `Audit ${i}`, contacto_email: 'a@example.com' });
      const res = await sa.get('/admin/auditoria?accion=empresa.crear');
      assert.equal(res.statusCode, 200);
      assert.equal(res.data.length, 3);
      assert.equal(res.headers['x-total-count'], '3');
      assert.deepEqual(Object.keys(res.data[0]), ['id', 'creado_en', 'usuario_id', 'usuario_email', 'rol', 'empresa_id', 'accion', 'recurso', 'recurso_id', 'detalles', 'ip']);
      assert.deepEqual(res.data.map((a: { detalles: { nombre: string } }) => a.detalles.nombre), ['Audit 2', 'Audit 1', 'Audit 0']);
      const [first] = res.data;
      assert.equal(first.usuario_id, saId);
      assert.equal(first.usuario_email, SUPER_ADMIN.email);
      assert.equal(first.rol, 'super_admin');
      assert.equal(first.recurso, 'empresa');
      assert.equal(first.recurso_id, first.empresa_id);
      assert.equal(first.ip, '127.0.0.1');
      assert.ok(Math.abs(new Date(first.creado_en + 'Z').getTime() - Date.now()) < 60_000);

      const byEmpresa = await sa.get(`/admin/auditoria?empresa_id=${first.empresa_id}`);
      assert.deepEqual(byEmpresa.data.map((a: { id: number }) => a.id), [first.id]);
      const page = await sa.get('/admin/auditoria?accion=empresa.crear&limit=1&offset=1');
      assert.deepEqual(page.data.map((a: { id: number }) => a.id), [res.data[1].id]);
      assert.equal(page.headers['x-total-count'], '3');
      for (const q of ['limit=0', 'limit=501', 'offset=-1', `accion=${'a'.repeat(101)}`]) {
        assert.equal((await sa.get(`/admin/auditoria?${q}`)).statusCode, 422, q);
      }
    });
  });
});
