/**
 * Company-admin RouterOS endpoints (mikrotik-profiles, test-connection) and the router-key validation
 * endpoint, against the simulator in v6 and v7 mode, with unreachable, slow, wrong-password and TLS routers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, bearer, type TestApp } from '../helpers/app.js';
import { createEmpresa, createRouter, createUser } from '../helpers/fixtures.js';
import { startRouterSimulator, fixtureCertificate, type RouterSimulator } from '../../sandbox/routeros/index.js';

const ENV = { ROUTEROS_CONNECT_TIMEOUT_MS: '1000', ROUTEROS_COMMAND_TIMEOUT_MS: '1000', ROUTEROS_BREAKER_THRESHOLD: '2', ROUTEROS_BREAKER_COOLDOWN_MS: '60000', ROUTER_TESTS_PER_MINUTE: '1000' };
const NAIVE_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?$/;

for (const version of ['6', '7'] as const) {
  describe(`admin RouterOS endpoints, RouterOS v${version}`, () => {
    let t: TestApp;
    let sim: RouterSimulator;
    let empresaId: string;
    let token: string;
    let routerId: string;
    const sims: RouterSimulator[] = [];

    const newSim = async (opts: Parameters<typeof startRouterSimulator>[0] = {}) => {
      const s = await startRouterSimulator({ version, ...opts });
      sims.push(s);
      return s;
    };
    const routerOn = async (s: RouterSimulator, fields: Record<string, unknown> = {}) =>
      (await createRouter(t.ctx, empresaId, { host: s.host, puerto: s.port, password: 'xyz', ...fields })).id;
    const get = (path: string, tok = token) => t.request({ method: 'GET', url: `/api/v1/admin/routers/${path}`, headers: bearer(tok) });

    before(async () => {
      t = await startTestApp({ env: ENV });
      sim = await newSim({
        identity: 'Router Lobby',
        profiles: [{ name: '1_HORA_CORRIDO', 'session-timeout': '1h', 'idle-timeout': 'none', 'rate-limit': '10M/10M', 'address-list': 'clientes', 'shared-users': '2', 'mac-cookie-timeout': '1h' }],
      });
      empresaId = (await createEmpresa(t.ctx)).id;
      const admin = await createUser(t.ctx, { rol: 'cliente_admin', empresaId });
      token = await t.login(admin.email, admin.password);
      routerId = await routerOn(sim);
    });
    after(async () => {
      await t.close();
      for (const s of sims) await s.close();
    });

    describe('GET /api/v1/admin/routers/{id}/mikrotik-profiles', () => {
      it('lists the profiles with every field filled (strings as the router sent them)', async () => {
        const res = await get(`${routerId}/mikrotik-profiles`);
        assert.equal(res.statusCode, 200);
        assert.equal(res.data.length, 2);
        assert.deepEqual(res.data[1], {
          id: '*1',
          name: '1_HORA_CORRIDO',
          session_timeout: '1h',
          idle_timeout: 'none',
          keepalive_timeout: '2m',
          status_autorefresh: '1m',
          shared_users: '2',
          rate_limit: '10M/10M',
          address_list: 'clientes',
          mac_cookie_timeout: '1h',
        });
        assert.equal(res.data[0].name, 'default');
        assert.equal(res.data[0].rate_limit, null, 'absent on the router → null');
      });

      it('answers [] for a router without profiles (v7.18 sends !empty)', async () => {
        const bare = await newSim();
        bare.state.profiles.rows = [];
        const res = await get(`${await routerOn(bare)}/mikrotik-profiles`);
        assert.equal(res.statusCode, 200);
        assert.deepEqual(res.data, []);
      });

      it('keeps a numeric profile name a string (the legacy crashed with 500)', async () => {
        const numeric = await newSim({ profiles: [{ name: '30', 'session-timeout': '30m' }] });
        const res = await get(`${await routerOn(numeric)}/mikrotik-profiles`);
        assert.equal(res.statusCode, 200);
        assert.equal(res.data[1].name, '30');
        assert.equal(res.data[1].session_timeout, '30m');
      });

      it("another company's router and a missing router are 404", async () => {
        const other = await createEmpresa(t.ctx);
        const foreign = await createRouter(t.ctx, other.id, { host: sim.host, puerto: sim.port, password: 'xyz' });
        for (const id of [foreign.id, 'RTR_NOEXISTE']) {
          const res = await get(`${id}/mikrotik-profiles`);
          assert.equal(res.statusCode, 404);
          assert.deepEqual(res.data, { detail: 'Router no encontrado o no pertenece a tu empresa', code: 'router_not_found' });
        }
      });

      it('an inactive router is 400 with the legacy text', async () => {
        const id = await routerOn(sim, { activo: false });
        const res = await get(`${id}/mikrotik-profiles`);
        assert.equal(res.statusCode, 400);
        assert.equal(res.data.detail, 'El router está inactivo. Actívalo primero desde el panel.');
      });

      it('an unreachable router is 400 "No se pudo conectar al router: ..." JSON, never 500', async () => {
        const dead = await newSim();
        const id = await routerOn(dead);
        await dead.close();
        const res = await get(`${id}/mikrotik-profiles`);
        assert.equal(res.statusCode, 400);
        assert.equal(res.data.code, 'router_unreachable');
        assert.match(res.data.detail, /^No se pudo conectar al router: no se pudo establecer la conexión con 127\.0\.0\.1:\d+/);
      });

      it('a wrong router password is 400 naming the credentials problem', async () => {
        const id = await routerOn(sim, { password: 'incorrecta' });
        const res = await get(`${id}/mikrotik-profiles`);
        assert.equal(res.statusCode, 400);
        assert.equal(res.data.detail, 'No se pudo conectar al router: usuario o contraseña del router incorrectos');
      });

      it('a router slower than the command timeout is 400, not 500', async () => {
        const slow = await newSim();
        const id = await routerOn(slow);
        slow.slow(1500);
        const res = await get(`${id}/mikrotik-profiles`);
        assert.equal(res.statusCode, 400);
        assert.equal(res.data.code, 'router_unreachable');
      });

      it('a RouterOS trap is 400 with its text', async () => {
        const trapping = await newSim();
        trapping.trapOn('/ip/hotspot/user/profile/print', 'not enough permissions (9)');
        const res = await get(`${await routerOn(trapping)}/mikrotik-profiles`);
        assert.equal(res.statusCode, 400);
        assert.equal(res.data.detail, 'Error al obtener perfiles: not enough permissions (9)');
      });

      it('requires a company-admin session', async () => {
        assert.equal((await t.request({ method: 'GET', url: `/api/v1/admin/routers/${routerId}/mikrotik-profiles` })).statusCode, 401);
        assert.equal((await get(`${routerId}/mikrotik-profiles`, await t.superAdminToken())).statusCode, 403);
      });
    });

    describe('GET /api/v1/admin/routers/{id}/test-connection', () => {
      it('reports a working router with its identity and profile count', async () => {
        const res = await get(`${routerId}/test-connection`);
        assert.equal(res.statusCode, 200);
        const { timestamp, ...rest } = res.data;
        assert.match(timestamp, NAIVE_ISO);
        assert.deepEqual(rest, {
          success: true,
          message: 'Conexión exitosa',
          router: { id: routerId, nombre: `Router ${routerId}`, host: '127.0.0.1', puerto: sim.port, activo: true },
          perfiles_encontrados: 2,
          router_name: 'Router Lobby',
          error: null,
        });
      });

      it('reports an unreachable router in the legacy shape (200, success false)', async () => {
        const dead = await newSim();
        const id = await routerOn(dead);
        await dead.close();
        const res = await get(`${id}/test-connection`);
        assert.equal(res.statusCode, 200);
        assert.equal(res.data.success, false);
        assert.equal(res.data.message, 'Error de conexión');
        assert.equal(res.data.perfiles_encontrados, 0);
        assert.equal(res.data.router_name, null);
        assert.match(res.data.error, /^No se pudo conectar: no se pudo establecer la conexión/);
      });

      it('reports a router without a password as "Faltan datos de conexión"', async () => {
        const id = await routerOn(sim);
        await t.ctx.db.query(`UPDATE routers SET password_encrypted = '' WHERE id = $1`, [id]);
        const res = await get(`${id}/test-connection`);
        assert.equal(res.data.error, 'No se pudo conectar: Faltan datos de conexión');
      });

      it('a missing or foreign router is 404 (the legacy answered 200)', async () => {
        const res = await get('RTR_NOEXISTE/test-connection');
        assert.equal(res.statusCode, 404);
        assert.equal(res.data.detail, 'Router no encontrado o no pertenece a tu empresa');
      });

      it('goes through the circuit breaker like every other call: while it is open, a test fails fast without connecting', async () => {
        const flaky = await newSim();
        const id = await routerOn(flaky);
        await flaky.refuse();
        for (let i = 0; i < 2; i++) assert.equal((await get(`${id}/mikrotik-profiles`)).statusCode, 400);
        await flaky.accept();
        const before = flaky.connections.total;
        // Profiles and the explicit test both fail fast (breaker open, no connection attempted).
        assert.equal((await get(`${id}/mikrotik-profiles`)).statusCode, 400);
        const test = await get(`${id}/test-connection`);
        assert.equal(test.data.success, false);
        assert.equal(flaky.connections.total, before);
      });
    });

    describe('API-SSL (TLS)', () => {
      it('connects over TLS without verification when no CA or fingerprint is configured (legacy)', async () => {
        const secure = await newSim({ tls: true });
        const res = await get(`${await routerOn(secure, { tls: true })}/test-connection`);
        assert.equal(res.data.success, true);
      });

      it('uses TLS on port 8729 when the router row does not say (legacy rule)', async (ctx) => {
        let secure: RouterSimulator;
        try {
          secure = await startRouterSimulator({ version, tls: true, port: 8729 });
        } catch {
          return ctx.skip('el puerto 8729 está ocupado en esta máquina');
        }
        try {
          const res = await get(`${await routerOn(secure)}/test-connection`);
          assert.equal(res.data.success, true, JSON.stringify(res.data));
          assert.equal(res.data.router.puerto, 8729);
        } finally {
          await secure.close();
        }
      });

      it('verifies the certificate against a configured CA or pinned fingerprint', async () => {
        const secure = await newSim({ tls: true });
        const withCa = await routerOn(secure, { tls: true, tlsCa: secure.tls!.cert });
        assert.equal((await get(`${withCa}/test-connection`)).data.success, true);
        const withFp = await routerOn(secure, { tls: true, tlsFingerprint: secure.tls!.fingerprint256.toLowerCase() });
        assert.equal((await get(`${withFp}/test-connection`)).data.success, true);
      });

      it('refuses a router whose certificate does not match the pinned fingerprint', async () => {
        const secure = await newSim({ tls: true });
        const id = await routerOn(secure, { tls: true, tlsFingerprint: 'AB'.repeat(32) });
        const res = await get(`${id}/test-connection`);
        assert.equal(res.data.success, false);
        assert.equal(res.data.error, 'No se pudo conectar: el certificado TLS del router no coincide con la huella configurada');
        assert.equal(secure.received('/login').length, 0, 'the password was never sent');
      });

      it('refuses a router whose certificate is not signed by the configured CA', async (ctx) => {
        const secure = await newSim({ tls: true });
        const other = await fixtureCertificate();
        if (other.cert === secure.tls!.cert) return ctx.skip('openssl no disponible: el simulador usa el certificado de prueba');
        const id = await routerOn(secure, { tls: true, tlsCa: other.cert });
        const res = await get(`${id}/test-connection`);
        assert.equal(res.data.success, false);
        assert.equal(res.data.error, 'No se pudo conectar: el certificado TLS del router no es válido para la CA configurada');
        assert.equal(secure.received('/login').length, 0);
      });
    });

    describe('POST /api/v1/routers/validar-empresa-router', () => {
      const validate = (apiKey: string) => t.request({ method: 'POST', url: '/api/v1/routers/validar-empresa-router', headers: bearer(apiKey) });

      it('answers activo for a router that responds', async () => {
        const key = (await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'xyz' })).apiKey;
        const res = await validate(key);
        assert.equal(res.statusCode, 200);
        const { timestamp, ...rest } = res.data;
        assert.match(timestamp, NAIVE_ISO);
        assert.deepEqual(rest, { success: true, estado: 'activo', mensaje: 'Router en línea y responde correctamente', error_detalle: null, conexion_ok: true });
      });

      for (const [label, prepare] of [
        ['unreachable', async (s: RouterSimulator) => s.close()],
        ['hanging', async (s: RouterSimulator) => s.hang()],
        ['wrong password', null],
      ] as const) {
        it(`answers router_inactivo for a ${label} router (transcript 91)`, async () => {
          const s = await newSim();
          const key = (await createRouter(t.ctx, empresaId, { host: s.host, puerto: s.port, password: prepare ? 'xyz' : 'mala' })).apiKey;
          if (prepare) await prepare(s);
          const res = await validate(key);
          assert.equal(res.statusCode, 200);
          const { timestamp: _ts, ...rest } = res.data;
          assert.deepEqual(rest, { success: false, estado: 'router_inactivo', mensaje: 'El router no está en línea (conexión fallida)', error_detalle: 'router_inactivo', conexion_ok: false });
        });
      }

      it('requires a router API key', async () => {
        assert.equal((await t.request({ method: 'POST', url: '/api/v1/routers/validar-empresa-router' })).statusCode, 401);
        assert.equal((await validate(token)).statusCode, 401);
      });
    });
  });
}
