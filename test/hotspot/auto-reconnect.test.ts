/**
 * POST /api/v1/hotspot/auto-reconnect and /api/v1/hotspot/user/profile-info, plus ctx.hotspot.autoConnect
 * (after purchase), against the simulator in v6 and v7 mode. Covers the contract §2 fixes: proof of the
 * voucher, strict MAC/IP (no script injection), no password or raw record in responses, unreachable
 * routers reported as such, rate-limited PIN checks, and the random-MAC clone logic.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, bearer, type TestApp } from '../helpers/app.js';
import { createEmpresa, createRouter } from '../helpers/fixtures.js';
import { startRouterSimulator, type RouterSimulator, type SimulatorOptions } from '../../sandbox/routeros/index.js';

const ENV = {
  ROUTEROS_CONNECT_TIMEOUT_MS: '1000',
  ROUTEROS_COMMAND_TIMEOUT_MS: '1000',
  HOTSPOT_LOGIN_SETTLE_MS: '10',
  HOTSPOT_MAX_FAILURES_PER_CLIENT: '1000',
  HOTSPOT_MAX_FAILURES_PER_IP: '1000',
};
const NAIVE_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?$/;
const MAC1 = 'AA:BB:CC:DD:EE:01';

function seed(): SimulatorOptions {
  return {
    profiles: [{ name: '1_HORA', 'mac-cookie-timeout': '1h' }],
    hosts: [{ 'mac-address': MAC1, address: '10.5.50.11', 'to-address': '10.5.50.11' }],
    users: [
      { name: 'PT-7QK2M', password: '0123', profile: '1_HORA', comment: 'pagos-hotspot tx=HS1', 'limit-uptime': '1h' },
      { name: 'PT-04917', profile: '1_HORA', comment: 'pagos-hotspot tx=HS2' },
      { name: 'PT-TIME1', password: '4444', profile: '1_HORA', comment: 'MODE=PAUSADO TL=1h TA=10m', 'mac-address': 'AA:BB:CC:00:00:01', 'limit-uptime': '1h', uptime: '10m' },
      { name: 'PT-OFF01', password: '5555', profile: '1_HORA', disabled: 'true' },
      // Made by an operator by hand: quotes and RouterOS substitutions in name and password must stay data.
      { name: 'raro"$[/system reboot]', password: 'p"\\$[/user add name=evil group=full]', profile: 'default' },
    ],
  };
}

for (const version of ['6', '7'] as const) {
  describe(`captive-portal hotspot endpoints, RouterOS v${version}`, () => {
    let t: TestApp;
    let sim: RouterSimulator;
    let empresaId: string;
    let routerId: string;
    let apiKey: string;
    const sims: RouterSimulator[] = [];

    const reconnect = (payload: Record<string, unknown>, key = apiKey) =>
      t.request({ method: 'POST', url: '/api/v1/hotspot/auto-reconnect', headers: bearer(key), payload });
    const profileInfo = (payload: Record<string, unknown>, key = apiKey) =>
      t.request({ method: 'POST', url: '/api/v1/hotspot/user/profile-info', headers: bearer(key), payload });
    const keyFor = async (s: RouterSimulator, password = 'xyz') => (await createRouter(t.ctx, empresaId, { host: s.host, puerto: s.port, password })).apiKey;
    const newSim = async () => {
      const s = await startRouterSimulator({ version, ...seed() });
      sims.push(s);
      return s;
    };

    before(async () => {
      t = await startTestApp({ env: ENV });
      sim = await newSim();
      empresaId = (await createEmpresa(t.ctx)).id;
      const r = await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'xyz' });
      routerId = r.id;
      apiKey = r.apiKey;
    });
    after(async () => {
      await t.close();
      for (const s of sims) await s.close();
    });

    describe('POST /api/v1/hotspot/auto-reconnect', () => {
      it('logs the device in with the voucher password (leading zero kept) and returns only session data', async () => {
        const res = await reconnect({ username: 'PT-7QK2M', password: '0123', current_mac: 'aa-bb-cc-dd-ee-01', current_ip: '10.5.50.11' });
        assert.equal(res.statusCode, 200);
        const { timestamp, ...rest } = res.data;
        assert.match(timestamp, NAIVE_ISO);
        assert.deepEqual(rest, {
          success: true,
          estado: 'activo',
          auto_conexion: 'conectado',
          datos_sesion: { user: 'PT-7QK2M', address: '10.5.50.11', uptime: '0s', 'bytes-in': '0', 'bytes-out': '0' },
          nueva_mac: 'aa-bb-cc-dd-ee-01',
          tiempo_acumulado: null,
          tiempo_restante: null,
          primera_sesion: null,
          mensaje: version === '6' ? 'Conexión exitosa (método: ip_user_pass)' : 'Conexión exitosa (método: script_login)',
          error_detalle: null,
        });
        assert.ok(!res.body.includes('0123'), 'no password in the response');
        const session = sim.state.active.rows.find((s) => s.user === 'PT-7QK2M')!;
        assert.equal(session.address, '10.5.50.11');
        assert.equal(session['mac-address'], MAC1);
        if (version === '7') {
          assert.equal(sim.received('/system/script/add').length, 1);
          assert.equal(sim.state.scripts.rows.length, 0, 'the login script is removed');
          assert.deepEqual(sim.injected(), []);
        } else {
          assert.equal(sim.received('/system/script/add').length, 0);
        }
      });

      it('replaces the voucher\'s previous session and finds the IP in the host table when none is given', async () => {
        const res = await reconnect({ username: 'PT-7QK2M', password: '0123', current_mac: MAC1 });
        assert.equal(res.data.auto_conexion, 'conectado');
        assert.equal(res.data.datos_sesion.address, '10.5.50.11');
        assert.equal(sim.state.active.rows.filter((s) => s.user === 'PT-7QK2M').length, 1);
      });

      it('reports a device the hotspot does not know (no IP) without connecting it', async () => {
        const res = await reconnect({ username: 'PT-7QK2M', password: '0123', current_mac: 'AA:BB:CC:DD:EE:99' });
        assert.equal(res.data.success, false);
        assert.equal(res.data.estado, 'no_conectado');
        assert.equal(res.data.mensaje, 'El dispositivo debe estar conectado al hotspot primero');
        assert.equal(res.data.error_detalle, 'No se pudo detectar IP del cliente');
        assert.equal(res.data.datos_sesion, null);
      });

      it('refuses a wrong or missing voucher password (the legacy never checked it) and touches no session', async () => {
        sim.resetStats();
        for (const password of ['9999', '123', undefined]) {
          const res = await reconnect({ username: 'PT-7QK2M', ...(password === undefined ? {} : { password }), current_mac: MAC1, current_ip: '10.5.50.11' });
          assert.equal(res.statusCode, 200);
          assert.equal(res.data.success, false);
          assert.equal(res.data.estado, 'credenciales_invalidas');
          assert.equal(res.data.auto_conexion, 'no_conectado');
          assert.equal(res.data.datos_sesion, null);
        }
        assert.equal(sim.received('/ip/hotspot/active/remove').length, 0, "the owner's session was not ended");
        assert.equal(sim.received('/ip/hotspot/active/login').length + sim.received('/system/script/add').length, 0);
      });

      it('logs a PIN voucher in with its name alone', async () => {
        const res = await reconnect({ username: 'PT-04917', current_mac: MAC1, current_ip: '10.5.50.12' });
        assert.equal(res.data.auto_conexion, 'conectado');
        assert.equal(res.data.datos_sesion.user, 'PT-04917');
      });

      it('answers expirado for an unknown user and for a MAC-shaped user name', async () => {
        for (const username of ['PT-NADIE', 'AA:BB:CC:DD:EE:01', 'aa-bb-cc-dd-ee-01']) {
          const res = await reconnect({ username, password: 'x', current_mac: MAC1, current_ip: '10.5.50.11' });
          assert.equal(res.statusCode, 200);
          const { timestamp: _ts, ...rest } = res.data;
          assert.deepEqual(rest, {
            success: false,
            estado: 'expirado',
            auto_conexion: 'no_conectado',
            datos_sesion: null,
            nueva_mac: MAC1,
            tiempo_acumulado: null,
            tiempo_restante: null,
            primera_sesion: null,
            mensaje: 'Usuario no encontrado',
            error_detalle: null,
          });
        }
      });

      it('validates the body like the legacy (422 for missing fields, transcript 92)', async () => {
        const res = await reconnect({});
        assert.equal(res.statusCode, 422);
        assert.deepEqual(
          res.data.detail.map((d: { loc: string[]; type: string }) => [d.type, d.loc]),
          [
            ['missing', ['body', 'username']],
            ['missing', ['body', 'current_mac']],
          ],
        );
      });

      it('refuses a MAC carrying a quote, a newline and $[...] before anything reaches the router', async () => {
        const users = sim.state.users.rows.length;
        sim.resetStats();
        const evil = 'AA:BB:CC:DD:EE:01"\n/system reboot\n:local x "$[/user add name=evil group=full password=x]';
        const res = await reconnect({ username: 'PT-7QK2M', password: '0123', current_mac: evil, current_ip: '10.5.50.11' });
        assert.equal(res.statusCode, 422);
        assert.deepEqual(res.data.detail[0].loc, ['body', 'current_mac']);
        assert.equal(res.data.code, 'validation_error');
        const ipEvil = await reconnect({ username: 'PT-7QK2M', password: '0123', current_mac: MAC1, current_ip: '10.5.50.11"; /system reboot' });
        assert.equal(ipEvil.statusCode, 422);
        assert.deepEqual(ipEvil.data.detail[0].loc, ['body', 'current_ip']);
        assert.equal(sim.commands.length, 0, 'nothing was sent to the router');
        assert.deepEqual(sim.injected(), []);
        assert.equal(sim.state.users.rows.length, users);
      });

      it('keeps names and passwords with quotes and $[...] as plain data all the way to the router', async () => {
        sim.resetStats();
        const res = await reconnect({ username: 'raro"$[/system reboot]', password: 'p"\\$[/user add name=evil group=full]', current_mac: MAC1, current_ip: '10.5.50.13' });
        assert.equal(res.data.auto_conexion, 'conectado', JSON.stringify(res.data));
        assert.equal(sim.state.active.rows.find((s) => s.address === '10.5.50.13')?.user, 'raro"$[/system reboot]');
        assert.deepEqual(sim.injected(), [], 'no injected command ran');
        assert.ok(!sim.state.users.rows.some((u) => u.name === 'evil'));
        if (version === '7') {
          const run = sim.state.scriptRuns.at(-1)!;
          assert.deepEqual(run.outcome.logins[0], { user: 'raro"$[/system reboot]', password: 'p"\\$[/user add name=evil group=full]', ip: '10.5.50.13', 'mac-address': MAC1 });
          assert.ok(!/[^\\]"\$\[/.test(run.source), 'no raw "$[ in the script');
        }
      });

      it('does not log in a disabled voucher (the router refuses) and never leaks its record', async () => {
        const res = await reconnect({ username: 'PT-OFF01', password: '5555', current_mac: MAC1, current_ip: '10.5.50.14' });
        assert.equal(res.data.success, false);
        assert.equal(res.data.auto_conexion, 'no_conectado');
        assert.equal(res.data.datos_sesion, null);
        assert.ok(!res.body.includes('5555'));
      });

      it('reports a login whose session never appears', async () => {
        sim.state.loginCreatesSession = false;
        try {
          const res = await reconnect({ username: 'PT-7QK2M', password: '0123', current_mac: MAC1, current_ip: '10.5.50.11' });
          assert.equal(res.data.success, false);
          assert.equal(
            res.data.error_detalle,
            version === '6' ? 'No se pudo autenticar con ninguno de los métodos' : 'Login ejecutado pero la sesión no apareció a tiempo',
          );
          assert.equal(sim.state.scripts.rows.length, 0);
        } finally {
          sim.state.loginCreatesSession = true;
        }
      });

      if (version === '7') {
        it('treats "already logged in" as connected (v7) and always removes the script', async () => {
          sim.trapOn('/system/script/run', 'failure: already logged in', { times: 1 });
          const res = await reconnect({ username: 'PT-7QK2M', password: '0123', current_mac: MAC1, current_ip: '10.5.50.11' });
          assert.equal(res.data.success, true);
          assert.equal(res.data.auto_conexion, 'conectado');
          assert.equal(res.data.mensaje, 'El usuario ya estaba conectado previamente');
          assert.equal(sim.state.scripts.rows.length, 0);
        });

        it('reports other script failures and removes the script (it holds the voucher password)', async () => {
          sim.trapOn('/system/script/run', 'failure: interrupted', { times: 1 });
          const res = await reconnect({ username: 'PT-7QK2M', password: '0123', current_mac: MAC1, current_ip: '10.5.50.11' });
          assert.equal(res.data.success, false);
          assert.equal(res.data.mensaje, 'Error durante el proceso de auto-login en RouterOS v7');
          assert.equal(res.data.error_detalle, 'failure: interrupted');
          assert.equal(sim.state.scripts.rows.length, 0);
        });
      } else {
        it('falls back to the ip+mac and user-only login variants (v6)', async () => {
          sim.trapOn('/ip/hotspot/active/login', 'invalid value for argument ip', { times: 1 });
          const res = await reconnect({ username: 'PT-7QK2M', password: '0123', current_mac: MAC1, current_ip: '10.5.50.11' });
          assert.equal(res.data.mensaje, 'Conexión exitosa (método: ip_mac_user_pass)');
        });
      }

      describe('random-MAC clones of time-accounted vouchers', () => {
        it('logs in as the original from its own MAC', async () => {
          const res = await reconnect({ username: 'PT-TIME1', password: '4444', current_mac: 'AA:BB:CC:00:00:01', current_ip: '10.5.50.30' });
          assert.equal(res.data.datos_sesion.user, 'PT-TIME1');
        });

        it('creates a clone bound to a new MAC with the remaining uptime, then reuses it', async () => {
          sim.state.addHost({ 'mac-address': 'AA:BB:CC:00:00:02', address: '10.5.50.31' });
          const first = await reconnect({ username: 'PT-TIME1', password: '4444', current_mac: 'AA:BB:CC:00:00:02' });
          assert.equal(first.data.datos_sesion.user, 'PT-TIME1_RANDMAC1', JSON.stringify(first.data));
          const clone = sim.state.findUser('PT-TIME1_RANDMAC1')!;
          assert.equal(clone['mac-address'], 'AA:BB:CC:00:00:02');
          assert.equal(clone.password, '4444');
          assert.equal(clone.profile, '1_HORA');
          assert.equal(clone.comment, 'MODE=PAUSADO TL=1h TA=10m');
          assert.equal(clone['limit-uptime'], '50m', 'the clone does not get a fresh hour');
          const again = await reconnect({ username: 'PT-TIME1', password: '4444', current_mac: 'AA:BB:CC:00:00:02' });
          assert.equal(again.data.datos_sesion.user, 'PT-TIME1_RANDMAC1');
          assert.equal(sim.state.users.rows.filter((u) => u.name.startsWith('PT-TIME1_RANDMAC')).length, 1);
        });

        it('numbers the next clone after all existing ones (the legacy always tried _RANDMAC1)', async () => {
          const res = await reconnect({ username: 'PT-TIME1', password: '4444', current_mac: 'AA:BB:CC:00:00:03', current_ip: '10.5.50.32' });
          assert.equal(res.data.datos_sesion.user, 'PT-TIME1_RANDMAC2');
        });

        it('still requires the voucher password', async () => {
          const res = await reconnect({ username: 'PT-TIME1', password: '0000', current_mac: 'AA:BB:CC:00:00:04', current_ip: '10.5.50.33' });
          assert.equal(res.data.estado, 'credenciales_invalidas');
          assert.equal(sim.state.findUser('PT-TIME1_RANDMAC3'), undefined);
        });
      });

      describe('unreachable, slow and misconfigured routers', () => {
        it('answers 503 with a clear Spanish detail (not "expirado") for an unreachable router', async () => {
          const dead = await newSim();
          const key = await keyFor(dead);
          await dead.close();
          const res = await reconnect({ username: 'u123', password: 'p', current_mac: 'AA:BB:CC:DD:EE:FF', current_ip: '10.5.50.10' }, key);
          assert.equal(res.statusCode, 503);
          assert.deepEqual(res.data, { detail: 'No se pudo conectar con el router del hotspot. Intenta de nuevo en unos minutos.', code: 'router_unreachable' });
        });

        it('answers 503 for a router that does not answer in time and for a wrong router password', async () => {
          const slow = await newSim();
          slow.hangOn('/ip/hotspot/user/print');
          const wrong = await newSim();
          for (const key of [await keyFor(slow), await keyFor(wrong, 'mala')]) {
            const res = await reconnect({ username: 'PT-7QK2M', password: '0123', current_mac: MAC1, current_ip: '10.5.50.11' }, key);
            assert.equal(res.statusCode, 503);
            assert.equal(res.data.code, 'router_unreachable');
          }
        });
      });
    });

    describe('POST /api/v1/hotspot/user/profile-info', () => {
      it('confirms correct credentials (leading-zero password) without returning the password', async () => {
        const res = await profileInfo({ username: 'PT-7QK2M', password: '0123' });
        assert.equal(res.statusCode, 200);
        const { timestamp, ...rest } = res.data;
        assert.match(timestamp, NAIVE_ISO);
        assert.deepEqual(rest, {
          success: true,
          estado: 'ok',
          username: 'PT-7QK2M',
          tipo_usuario: 'usuario_contrasena',
          profile: '1_HORA',
          mac_cookie_timeout: '1h',
          mac_authentication: false,
          disabled: false,
          comment: 'pagos-hotspot tx=HS1',
          limit_uptime: '1h',
          datos_completos: { name: 'PT-7QK2M', profile: '1_HORA', disabled: false, comment: 'pagos-hotspot tx=HS1', 'limit-uptime': '1h' },
          mensaje: null,
          error_detalle: null,
        });
        assert.ok(!res.body.includes('0123'));
      });

      it('reports the real disabled flag', async () => {
        const res = await profileInfo({ username: 'PT-OFF01', password: '5555' });
        assert.equal(res.data.disabled, true);
      });

      it('refuses wrong credentials with the legacy shape', async () => {
        for (const payload of [{ username: 'PT-7QK2M', password: '123' }, { username: 'PT-7QK2M' }, { username: 'PT-NADIE', password: '1' }]) {
          const res = await profileInfo(payload);
          assert.equal(res.statusCode, 200);
          const { timestamp: _ts, ...rest } = res.data;
          assert.deepEqual(rest, {
            success: false,
            estado: 'credenciales_invalidas',
            username: payload.username,
            tipo_usuario: null,
            profile: null,
            mac_cookie_timeout: null,
            mac_authentication: null,
            disabled: null,
            comment: null,
            limit_uptime: null,
            datos_completos: null,
            mensaje: 'Credenciales incorrectas o no autorizado',
            error_detalle: 'credenciales_invalidas',
          });
        }
      });

      it('accepts a PIN voucher only without a password (legacy rule)', async () => {
        const ok = await profileInfo({ username: 'PT-04917' });
        assert.equal(ok.data.success, true);
        assert.equal(ok.data.tipo_usuario, 'pin');
        assert.equal((await profileInfo({ username: 'PT-04917', password: 'x' })).data.success, false);
      });

      it('answers 503 when the router is unreachable (the legacy said "credenciales_invalidas", transcript 94)', async () => {
        const dead = await newSim();
        const key = await keyFor(dead);
        await dead.close();
        const res = await profileInfo({ username: 'u123', password: 'p' }, key);
        assert.equal(res.statusCode, 503);
        assert.equal(res.data.code, 'router_unreachable');
      });

      it('validates the body (422)', async () => {
        const res = await profileInfo({ password: 'x' });
        assert.equal(res.statusCode, 422);
        assert.deepEqual(res.data.detail[0].loc, ['body', 'username']);
      });
    });

    describe('ctx.hotspot.autoConnect (after a purchase)', () => {
      it('returns the legacy result object', async () => {
        const r = await t.ctx.hotspot.autoConnect(routerId, { username: 'PT-04917', password: '', mac: MAC1, ip: '10.5.50.40' });
        assert.equal(r.success, true);
        assert.equal(r.conectado, true);
        assert.equal(r.ip, '10.5.50.40');
        assert.equal(r.mac, MAC1.toLowerCase());
        assert.equal(r.username, 'PT-04917');
        assert.equal(r.metodo_usado, version === '6' ? 'ip_user_pass' : 'script_login');
      });

      it('never throws: invalid device data or a dead router give a failure result, nothing is sent', async () => {
        sim.resetStats();
        const bad = await t.ctx.hotspot.autoConnect(routerId, { username: 'PT-04917', password: '', mac: 'AA:BB"\n/system reboot', ip: '10.5.50.40' });
        assert.equal(bad.success, false);
        assert.equal(sim.commands.length, 0);
        const dead = await newSim();
        const deadRouter = await createRouter(t.ctx, empresaId, { host: dead.host, puerto: dead.port, password: 'xyz' });
        await dead.close();
        const r = await t.ctx.hotspot.autoConnect(deadRouter.id, { username: 'PT-04917', password: '', mac: MAC1, ip: '10.5.50.40' });
        assert.equal(r.success, false);
        assert.equal(r.conectado, false);
        assert.equal(r.mensaje, 'Error crítico durante la auto-conexión');
      });
    });
  });
}

describe('rate limiting of voucher checks', () => {
  let t: TestApp;
  let sim: RouterSimulator;
  let apiKey: string;
  let otherKey: string;

  before(async () => {
    t = await startTestApp({ env: { ...ENV, HOTSPOT_MAX_FAILURES_PER_CLIENT: '3', HOTSPOT_MAX_FAILURES_PER_IP: '6' } });
    sim = await startRouterSimulator({ version: '7', ...seed() });
    const empresaId = (await createEmpresa(t.ctx)).id;
    apiKey = (await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'xyz' })).apiKey;
    otherKey = (await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'xyz' })).apiKey;
  });
  after(async () => {
    await t.close();
    await sim.close();
  });

  const guess = (pin: string, mac: string, key = apiKey) =>
    t.request({ method: 'POST', url: '/api/v1/hotspot/auto-reconnect', headers: bearer(key), payload: { username: pin, current_mac: mac, current_ip: '10.5.50.50' } });

  it('PIN guessing from one device is cut off with 429 and Retry-After', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await guess(`PT-1000${i}`, 'AA:00:00:00:00:01')).data.estado, 'expirado');
    const res = await guess('PT-04917', 'AA:00:00:00:00:01');
    assert.equal(res.statusCode, 429);
    assert.equal(res.data.code, 'too_many_attempts');
    assert.ok(Number(res.headers['retry-after']) > 0);
  });

  it('rotating MACs does not help: the router-and-IP limit applies too', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await guess(`PT-2000${i}`, `AA:00:00:00:01:0${i}`)).statusCode, 200);
    const res = await guess('PT-04917', 'AA:00:00:00:01:09');
    assert.equal(res.statusCode, 429);
    const info = await t.request({ method: 'POST', url: '/api/v1/hotspot/user/profile-info', headers: bearer(apiKey), payload: { username: 'PT-04917' } });
    assert.equal(info.statusCode, 429);
  });

  it('limits are per router', async () => {
    const res = await guess('PT-04917', 'AA:00:00:00:00:01', otherKey);
    assert.equal(res.statusCode, 200);
    assert.equal(res.data.auto_conexion, 'conectado');
  });
});
