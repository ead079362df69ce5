/**
 * Issue 12, "guessing vouchers and PINs" and "anyone can lock an admin out": TRUST_PROXY as a hop count,
 * a failure budget per router, IPv6 grouped by /64, per (account, IP) login limits with progressive
 * per-account delays. Through HTTP (inject with a chosen peer address and X-Forwarded-For).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestApp, bearer, type TestApp } from '../helpers/app.js';
import { createEmpresa, createRouter, createUser } from '../helpers/fixtures.js';
import { startRouterSimulator, type RouterSimulator } from '../../sandbox/routeros/index.js';

const randomMac = () => (randomBytes(6).toString('hex').toUpperCase().match(/../g) as string[]).join(':');
const randomIp = () => `198.51.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
const randomPin = () => `PT-${String(randomBytes(4).readUInt32BE() % 100_000_000).padStart(8, '0')}`;

describe('PIN guessing', () => {
  let t: TestApp;
  let sim: RouterSimulator;
  let key: string;
  let key2: string;
  let key3: string;

  before(async () => {
    t = await startTestApp({
      env: {
        TRUST_PROXY: 'true',
        HOTSPOT_MAX_FAILURES_PER_CLIENT: '5',
        HOTSPOT_MAX_FAILURES_PER_IP: '50',
        HOTSPOT_ROUTER_FAILURE_BUDGET: '200',
      },
    });
    sim = await startRouterSimulator({ version: '7', profiles: [{ name: '1_HORA' }], users: [{ name: 'PT-04917000', profile: '1_HORA', comment: 'pagos-hotspot tx=HS2' }] });
    const empresaId = (await createEmpresa(t.ctx)).id;
    key = (await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'xyz' })).apiKey;
    key2 = (await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'xyz' })).apiKey;
    key3 = (await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'xyz' })).apiKey;
  });
  after(async () => {
    await t.close();
    await sim.close();
  });

  const check = (username: string, opts: { xff?: string; remote?: string; apiKey?: string } = {}) =>
    t.request({
      method: 'POST',
      url: '/api/v1/hotspot/user/profile-info',
      remoteAddress: opts.remote ?? '127.0.0.1',
      headers: { ...bearer(opts.apiKey ?? key), ...(opts.xff ? { 'x-forwarded-for': opts.xff } : {}) },
      payload: { username },
    });

  it('TRUST_PROXY=true is one hop: a client-written leftmost X-Forwarded-For does not reset the IP limit', async () => {
    // Our proxy appends the real client address (203.0.113.7); the attacker writes anything before it.
    let first429 = -1;
    for (let i = 0; i < 101; i++) {
      const res = await check(randomPin(), { xff: `${randomIp()}, 203.0.113.7` });
      if (res.statusCode === 429) {
        first429 = i;
        break;
      }
    }
    assert.ok(first429 >= 0 && first429 <= 51, `first 429 at guess ${first429}`);
  });

  it('everyone behind the hotspot NAT is slowed down, not locked out: a short Retry-After, then the right PIN works', async () => {
    // 50 wrong guesses from the hotspot's public address, then a legitimate voucher from the same address.
    for (let i = 0; i < 50; i++) assert.equal((await check(randomPin(), { xff: '203.0.113.8', apiKey: key3 })).statusCode, 200);
    let res = await check('PT-04917000', { xff: '203.0.113.8', apiKey: key3 });
    for (let i = 0; res.statusCode === 429 && i < 5; i++) {
      const wait = Number(res.headers['retry-after']);
      assert.ok(wait > 0 && wait <= 30, `Retry-After ${wait} s`);
      await sleep(wait * 1000);
      res = await check('PT-04917000', { xff: '203.0.113.8', apiKey: key3 });
    }
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.success, true);
  });

  it('IPv6 clients are grouped by /64: rotating the interface id does not help', async () => {
    let first429 = -1;
    for (let i = 0; i < 60; i++) {
      const res = await check(randomPin(), { xff: `2001:db8:1:2::${(i + 1).toString(16)}`, apiKey: key2 });
      if (res.statusCode === 429) {
        first429 = i;
        break;
      }
    }
    assert.ok(first429 >= 0 && first429 <= 51, `first 429 at guess ${first429}`);
  });
});

describe('failure budget per router', () => {
  let t: TestApp;
  let sim: RouterSimulator;
  let key: string;
  let other: string;

  before(async () => {
    t = await startTestApp({ env: { TRUST_PROXY: '1', HOTSPOT_ROUTER_FAILURE_BUDGET: '20', HOTSPOT_FAILURE_WINDOW_SECONDS: '900' } });
    sim = await startRouterSimulator({ version: '7', profiles: [{ name: '1_HORA' }], users: [{ name: 'PT-04917000', profile: '1_HORA' }] });
    const empresaId = (await createEmpresa(t.ctx)).id;
    key = (await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'xyz' })).apiKey;
    other = (await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'xyz' })).apiKey;
  });
  after(async () => {
    await t.close();
    await sim.close();
  });

  const guess = (pin: string, apiKey = key) =>
    t.request({
      method: 'POST',
      url: '/api/v1/hotspot/auto-reconnect',
      headers: { ...bearer(apiKey), 'x-forwarded-for': randomIp() },
      payload: { username: pin, current_mac: randomMac(), current_ip: '10.5.50.50' },
    });

  it('guesses from ever-new addresses and MACs are paced once the router budget is spent (window / budget apart)', async () => {
    let first429 = -1;
    let retryAfter = 0;
    for (let i = 0; i < 40; i++) {
      const res = await guess(randomPin());
      if (res.statusCode === 429) {
        first429 = i;
        retryAfter = Number(res.headers['retry-after']);
        break;
      }
    }
    assert.ok(first429 >= 20 && first429 <= 21, `first 429 at guess ${first429}`);
    // One attempt per 900 s / 20 = 45 s: slowed, not the whole window.
    assert.ok(retryAfter > 0 && retryAfter <= 45, `Retry-After ${retryAfter}`);
  });

  it('a parallel burst cannot all pass while the count is low: at most the budget gets through', async () => {
    const empresaId = (await createEmpresa(t.ctx)).id;
    const burstKey = (await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'xyz' })).apiKey;
    const results = await Promise.all(Array.from({ length: 60 }, () => guess(randomPin(), burstKey)));
    const passed = results.filter((r) => r.statusCode === 200).length;
    assert.ok(passed <= 21, `${passed} of 60 parallel guesses were checked`);
    assert.ok(results.some((r) => r.statusCode === 429));
  });

  it('another router of the same company keeps its own budget', async () => {
    const res = await guess('PT-04917000', other);
    assert.equal(res.statusCode, 200);
  });
});

describe('admin login limits', () => {
  let t: TestApp;
  let email: string;
  let password: string;

  before(async () => {
    t = await startTestApp({ env: { LOGIN_MAX_FAILURES_PER_ACCOUNT: '5', LOGIN_MAX_FAILURES_PER_IP: '20', LOGIN_WINDOW_SECONDS: '900' } });
    const empresaId = (await createEmpresa(t.ctx)).id;
    ({ email, password } = await createUser(t.ctx, { rol: 'cliente_admin', empresaId }));
  });
  after(async () => t.close());

  const login = (pw: string, ip: string) => t.request({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: ip, payload: { email, password: pw } });

  it('five wrong passwords from one IP lock that (account, IP) pair; the owner elsewhere only waits a few seconds at most', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await login('wrong-password', '198.51.100.1')).statusCode, 401);
    const attacker = await login(password, '198.51.100.1');
    assert.equal(attacker.statusCode, 429);
    let res = await login(password, '203.0.113.50');
    for (let i = 0; res.statusCode === 429 && i < 5; i++) {
      const wait = Number(res.headers['retry-after']);
      assert.ok(wait > 0 && wait <= 30, `Retry-After ${wait} s for the owner`);
      await sleep(wait * 1000);
      res = await login(password, '203.0.113.50');
    }
    assert.equal(res.statusCode, 200, res.body);
  });

  it('failures spread over many IPs slow the account down progressively instead of locking it', async () => {
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await login('wrong-password', `198.51.101.${i + 1}`);
      if (res.statusCode === 429) waits.push(Number(res.headers['retry-after']));
    }
    assert.ok(waits.length > 0, 'the account was slowed down');
    for (const w of waits) assert.ok(w <= 30, `Retry-After ${w}`);
  });
});
