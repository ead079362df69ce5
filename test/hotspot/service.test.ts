/** ctx.hotspot against the RouterOS simulator (v6 and v7): the contract the payments module codes against. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createEmpresa, createRouter } from '../helpers/fixtures.js';
import { startRouterSimulator, type RouterSimulator } from '../../sandbox/routeros/index.js';
import { RouterProfileMissingError, RouterUnreachableError, VoucherNameTakenError } from '../../src/modules/hotspot/service.js';

const ENV = { ROUTEROS_CONNECT_TIMEOUT_MS: '1500', ROUTEROS_COMMAND_TIMEOUT_MS: '1500', HOTSPOT_LOGIN_SETTLE_MS: '10', ROUTEROS_BREAKER_THRESHOLD: '2', ROUTEROS_BREAKER_COOLDOWN_MS: '60000' };

for (const version of ['6', '7'] as const) {
  describe(`HotspotService on RouterOS v${version}`, () => {
    let t: TestApp;
    let sim: RouterSimulator;
    let routerId: string;
    let empresaId: string;

    before(async () => {
      t = await startTestApp({ env: ENV });
      sim = await startRouterSimulator({ version, profiles: [{ name: '1_HORA_CORRIDO' }, { name: '1_DIA_PAUSADO' }] });
      empresaId = (await createEmpresa(t.ctx)).id;
      routerId = (await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'xyz' })).id;
    });
    after(async () => {
      await t.close();
      await sim.close();
    });

    it('checkReady passes for an existing profile and names the available ones otherwise', async () => {
      await t.ctx.hotspot.checkReady(routerId, '1_HORA_CORRIDO');
      await assert.rejects(t.ctx.hotspot.checkReady(routerId, 'NO_EXISTE'), (err: unknown) => {
        assert.ok(err instanceof RouterProfileMissingError);
        assert.equal(err.message, "Perfil 'NO_EXISTE' no encontrado. Disponibles: default, 1_HORA_CORRIDO, 1_DIA_PAUSADO");
        return true;
      });
    });

    it('checkReady caches a positive answer briefly', async () => {
      await t.ctx.hotspot.checkReady(routerId, '1_DIA_PAUSADO');
      const before = sim.received('/ip/hotspot/user/profile/print').length;
      await t.ctx.hotspot.checkReady(routerId, '1_DIA_PAUSADO');
      assert.equal(sim.received('/ip/hotspot/user/profile/print').length, before);
    });

    it('createVoucher adds the user with profile, password, limit-uptime and comment, and is idempotent', async () => {
      const spec = { username: 'PT-7QK2M', password: '0123', profile: '1_HORA_CORRIDO', limitUptimeMinutes: 90, comment: 'pagos-hotspot tx=HS1' };
      assert.deepEqual(await t.ctx.hotspot.createVoucher(routerId, spec), { created: true });
      assert.deepEqual(await t.ctx.hotspot.createVoucher(routerId, spec), { created: false });
      const users = sim.state.users.rows.filter((u) => u.name === 'PT-7QK2M');
      assert.equal(users.length, 1);
      assert.equal(users[0].password, '0123', 'leading zero kept');
      assert.equal(users[0].profile, '1_HORA_CORRIDO');
      assert.equal(users[0]['limit-uptime'], '1h30m');
      assert.equal(users[0].comment, 'pagos-hotspot tx=HS1');
      assert.equal(users[0].disabled, 'false');
    });

    it('createVoucher refuses a name that belongs to someone else', async () => {
      sim.state.addUser({ name: 'PT-TAKEN', password: '1', comment: 'creado a mano' });
      await assert.rejects(
        t.ctx.hotspot.createVoucher(routerId, { username: 'PT-TAKEN', password: '1111', profile: 'default', comment: 'pagos-hotspot tx=HS2' }),
        VoucherNameTakenError,
      );
    });

    it('createVoucher for a PIN voucher sends no password word and no limit when there is no duration', async () => {
      await t.ctx.hotspot.createVoucher(routerId, { username: 'PT-04917', password: '', profile: 'default', limitUptimeMinutes: null, comment: 'pagos-hotspot tx=HS3' });
      const add = sim.received('/ip/hotspot/user/add').find((c) => c.words.includes('=name=PT-04917'))!;
      assert.ok(!add.words.some((w) => w.startsWith('=password=')));
      assert.ok(!add.words.some((w) => w.startsWith('=limit-uptime=')));
      assert.equal(sim.state.findUser('PT-04917')!.password, undefined);
    });

    it('createVoucher reports a missing profile as RouterProfileMissingError', async () => {
      await assert.rejects(
        t.ctx.hotspot.createVoucher(routerId, { username: 'PT-NOPRO', password: '1234', profile: 'BORRADO', comment: 'pagos-hotspot tx=HS4' }),
        RouterProfileMissingError,
      );
    });

    it('concurrent creations of the same voucher yield exactly one router user', async () => {
      const spec = { username: 'PT-RACE1', password: '5555', profile: 'default', comment: 'pagos-hotspot tx=HS5' };
      const results = await Promise.all(Array.from({ length: 8 }, () => t.ctx.hotspot.createVoucher(routerId, spec)));
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(sim.state.users.rows.filter((u) => u.name === 'PT-RACE1').length, 1);
    });

    it('findUser returns the user or null', async () => {
      assert.deepEqual(await t.ctx.hotspot.findUser(routerId, 'PT-7QK2M'), { name: 'PT-7QK2M', profile: '1_HORA_CORRIDO', comment: 'pagos-hotspot tx=HS1', disabled: false });
      assert.equal(await t.ctx.hotspot.findUser(routerId, 'PT-NADIE'), null);
    });

    it('removeVoucher removes the user, its random-MAC clones, active sessions and cookies', async () => {
      await t.ctx.hotspot.createVoucher(routerId, { username: 'PT-GONE1', password: '4321', profile: 'default', comment: 'pagos-hotspot tx=HS6' });
      sim.state.addUser({ name: 'PT-GONE1_RANDMAC1', password: '4321', 'mac-address': 'AA:AA:AA:AA:AA:01' });
      sim.state.addSession({ user: 'PT-GONE1', address: '10.5.50.20', 'mac-address': 'AA:AA:AA:AA:AA:02' });
      sim.state.addSession({ user: 'PT-GONE1_RANDMAC1', address: '10.5.50.21', 'mac-address': 'AA:AA:AA:AA:AA:01' });
      sim.state.addSession({ user: 'PT-OTHER', address: '10.5.50.22', 'mac-address': 'AA:AA:AA:AA:AA:03' });
      sim.state.cookies.insert({ user: 'PT-GONE1', 'mac-address': 'AA:AA:AA:AA:AA:02' });
      await t.ctx.hotspot.removeVoucher(routerId, 'PT-GONE1');
      assert.equal(sim.state.users.rows.filter((u) => u.name.startsWith('PT-GONE1')).length, 0);
      assert.deepEqual(sim.state.active.rows.map((s) => s.user), ['PT-OTHER']);
      assert.equal(sim.state.cookies.rows.length, 0);
      // Removing again is fine (nothing left).
      await t.ctx.hotspot.removeVoucher(routerId, 'PT-GONE1');
    });

    it('an unreachable router is RouterUnreachableError, and the breaker then fails fast', async () => {
      const dead = await startRouterSimulator({ version });
      const deadId = (await createRouter(t.ctx, empresaId, { host: dead.host, puerto: dead.port, password: 'xyz' })).id;
      await dead.refuse();
      for (let i = 0; i < 2; i++) await assert.rejects(t.ctx.hotspot.checkReady(deadId, 'default'), RouterUnreachableError);
      // Breaker open: even with the router back, no connection is attempted during the cooldown.
      await dead.accept();
      await assert.rejects(t.ctx.hotspot.createVoucher(deadId, { username: 'PT-DEAD1', password: '1', profile: 'default', comment: 'x' }), (err: unknown) => {
        assert.ok(err instanceof RouterUnreachableError);
        assert.match(err.message, /no se pudo establecer la conexión/);
        return true;
      });
      assert.equal(dead.connections.total, 0);
      await dead.close();
    });

    it('a wrong router password is RouterUnreachableError (login)', async () => {
      const id = (await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'wrong' })).id;
      await assert.rejects(t.ctx.hotspot.findUser(id, 'PT-7QK2M'), (err: unknown) => {
        assert.ok(err instanceof RouterUnreachableError);
        assert.equal(err.reason, 'login');
        return true;
      });
    });

    it('a hanging router costs its own requests their timeout, while other routers keep working', async () => {
      const slow = await startRouterSimulator({ version });
      const id = (await createRouter(t.ctx, empresaId, { host: slow.host, puerto: slow.port, password: 'xyz' })).id;
      slow.hang();
      let settled = false;
      const hanging = t.ctx.hotspot.findUser(id, 'x').finally(() => {
        settled = true;
      });
      // Meanwhile another router and the HTTP service answer.
      assert.equal((await t.ctx.hotspot.findUser(routerId, 'PT-7QK2M'))?.name, 'PT-7QK2M');
      assert.equal((await t.request({ method: 'GET', url: '/health' })).statusCode, 200);
      assert.equal(settled, false, 'the hanging call was still waiting');
      await assert.rejects(hanging, RouterUnreachableError);
      await slow.close();
    });

    it('a router that slows down mid-session (after login) fails the command, not the service', async () => {
      const slow = await startRouterSimulator({ version });
      const id = (await createRouter(t.ctx, empresaId, { host: slow.host, puerto: slow.port, password: 'xyz' })).id;
      assert.equal(await t.ctx.hotspot.findUser(id, 'nadie'), null);
      slow.slow(2500);
      await assert.rejects(t.ctx.hotspot.findUser(id, 'nadie'), (err: unknown) => err instanceof RouterUnreachableError && err.reason === 'timeout');
      slow.clearFailures();
      assert.equal(await t.ctx.hotspot.findUser(id, 'nadie'), null, 'a fresh session works again');
      await slow.close();
    });
  });
}
