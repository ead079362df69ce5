/**
 * Issue 12, "a hostile router can exhaust memory and stall every tenant": a simulator that misbehaves
 * (huge words, endless rows, endless sentences, anonymous-only API-SSL) driven over the RouterOS protocol
 * and through HTTP. Caps are asserted on what the hostile router managed to send before we hung up and on
 * the work the client did, never on timing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, bearer, type TestApp } from '../helpers/app.js';
import { createEmpresa, createRouter, createUser } from '../helpers/fixtures.js';
import { startRouterSimulator, type RouterSimulator } from '../../sandbox/routeros/index.js';
import { RouterOSConnection } from '../../src/modules/hotspot/routeros/connection.js';
import { ProtocolError } from '../../src/modules/hotspot/routeros/protocol.js';

const MB = 1024 * 1024;
const ENV = {
  ROUTEROS_CONNECT_TIMEOUT_MS: '20000',
  ROUTEROS_COMMAND_TIMEOUT_MS: '20000',
  ROUTEROS_MAX_REPLY_BYTES: String(2 * MB),
  ROUTEROS_MAX_WORD_BYTES: String(256 * 1024),
  ROUTEROS_MAX_REPLY_ROWS: '1000',
  ROUTER_TESTS_PER_MINUTE: '1000',
  ROUTEROS_BREAKER_THRESHOLD: '1000',
};

describe('hostile router', () => {
  let t: TestApp;
  let sim: RouterSimulator;
  let token: string;
  let empresaId: string;
  let routerId: string;

  before(async () => {
    t = await startTestApp({ env: ENV });
    sim = await startRouterSimulator({ version: '7', profiles: [{ name: 'default' }] });
    empresaId = (await createEmpresa(t.ctx)).id;
    const r = await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'xyz' });
    routerId = r.id;
    const admin = await createUser(t.ctx, { rol: 'cliente_admin', empresaId });
    token = await t.login(admin.email, admin.password);
  });
  after(async () => {
    await t.close();
    await sim.close();
  });

  const testConnection = () => t.request({ method: 'GET', url: `/api/v1/admin/routers/${routerId}/test-connection`, headers: bearer(token) });

  it('a 150 MB /login reply (1 MB rows) is refused at the byte cap: clear error, memory stays bounded', async () => {
    sim.clearFailures();
    const sentBefore = sim.hostileBytes;
    const rssBefore = process.memoryUsage().rss;
    sim.misbehave({ kind: 'rows', on: '/login', rowBytes: MB, bytes: 150 * MB });
    const res = await testConnection();
    assert.equal(res.statusCode, 200);
    assert.equal(res.data.success, false);
    assert.match(res.data.error, /demasiado grande/);
    // We hung up at the cap: the router could push little more than the cap and the socket buffers.
    assert.ok(sim.hostileBytes - sentBefore < 2 * MB + 16 * MB, `hostile router sent ${sim.hostileBytes - sentBefore} bytes`);
    assert.ok(process.memoryUsage().rss - rssBefore < 64 * MB, `RSS grew ${(process.memoryUsage().rss - rssBefore) / MB} MB`);
    sim.clearFailures();
  });

  it('a word longer than the word cap is refused at its declared length', async () => {
    sim.clearFailures();
    const sentBefore = sim.hostileBytes;
    sim.misbehave({ kind: 'huge-word', on: '/login', bytes: 150 * MB });
    const res = await testConnection();
    assert.equal(res.data.success, false);
    assert.match(res.data.error, /demasiado/);
    assert.ok(sim.hostileBytes - sentBefore < 16 * MB, `hostile router sent ${sim.hostileBytes - sentBefore} bytes`);
    sim.clearFailures();
  });

  it('endless !re rows are cut at the row/byte cap: profiles answer a clear 400', async () => {
    sim.clearFailures();
    const sentBefore = sim.hostileBytes;
    sim.misbehave({ kind: 'rows', on: '/ip/hotspot/user/profile/print', rowBytes: 200 });
    const res = await t.request({ method: 'GET', url: `/api/v1/admin/routers/${routerId}/mikrotik-profiles`, headers: bearer(token) });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.data.detail, /filas|bytes/);
    assert.ok(sim.hostileBytes - sentBefore < 2 * MB + 16 * MB, `hostile router sent ${sim.hostileBytes - sentBefore} bytes`);
    sim.clearFailures();
  });

  it('one endless sentence of tiny words is cut at the byte cap', async () => {
    sim.clearFailures();
    const sentBefore = sim.hostileBytes;
    sim.misbehave({ kind: 'many-words', on: '/system/identity/print', bytes: 64 * MB });
    const res = await testConnection();
    assert.equal(res.data.success, false);
    assert.match(res.data.error, /demasiad/);
    assert.ok(sim.hostileBytes - sentBefore < 2 * MB + 16 * MB, `hostile router sent ${sim.hostileBytes - sentBefore} bytes`);
    sim.clearFailures();
  });

  it('the router keeps working once it behaves again (the bad session was closed, not pooled)', async () => {
    sim.clearFailures();
    const res = await testConnection();
    assert.equal(res.data.success, true, res.body);
  });

  it('a word split over many chunks is filled in place (no Buffer.concat per chunk: that was quadratic)', async () => {
    sim.clearFailures();
    sim.misbehave({ kind: 'huge-word', on: '/system/identity/print', bytes: 16 * MB });
    const conn = await RouterOSConnection.open({
      host: sim.host,
      port: sim.port,
      user: 'admin',
      password: 'xyz',
      tls: false,
      connectTimeoutMs: 20_000,
      commandTimeoutMs: 20_000,
      // Big enough to take the whole word: the reader must buffer it, once.
      limits: { maxWordBytes: 32 * MB, maxReplyBytes: 64 * MB },
    });
    const concat = Buffer.concat;
    let concatBytes = 0;
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
      const out = concat(list, total);
      concatBytes += out.length;
      return out;
    }) as typeof Buffer.concat;
    try {
      // The 16 MB word is read whole, then refused as a reply no router sends.
      await assert.rejects(conn.command('/system/identity/print'), (err: unknown) => err instanceof ProtocolError);
    } finally {
      Buffer.concat = concat;
      conn.close();
      sim.clearFailures();
    }
    // Rebuilding the word on every 64 KB chunk copied ~16 MB × 256 / 2 ≈ 2 GB; filling in place copies none.
    assert.ok(concatBytes < 32 * MB, `Buffer.concat produced ${concatBytes} bytes`);
  });

  it('API-SSL with only anonymous ciphers (no router certificate) is refused with what to configure, not "unreachable"', async () => {
    const adh = await startRouterSimulator({ version: '7', tls: true, tlsAnonymous: true });
    try {
      const r = await createRouter(t.ctx, empresaId, { host: adh.host, puerto: adh.port, password: 'xyz', tls: true });
      const res = await t.request({ method: 'GET', url: `/api/v1/admin/routers/${r.id}/test-connection`, headers: bearer(token) });
      assert.equal(res.data.success, false);
      assert.match(res.data.error, /sin certificado/);
      assert.match(res.data.error, /api-ssl certificate=/);
      assert.equal(adh.received('/login').length, 0, 'the password was never sent');
    } finally {
      await adh.close();
    }
  });
});

describe('per-company limit on concurrent router connections', () => {
  let t: TestApp;
  let sim: RouterSimulator;

  before(async () => {
    t = await startTestApp({ env: { ROUTEROS_POOL_MAX: '8', ROUTEROS_MAX_CONNECTIONS_PER_COMPANY: '2', ROUTEROS_COMMAND_TIMEOUT_MS: '20000', ROUTEROS_CONNECT_TIMEOUT_MS: '20000' } });
    sim = await startRouterSimulator({ version: '7' });
  });
  after(async () => {
    await t.close();
    await sim.close();
  });

  it('one company never holds more connections than its limit, over all its routers; the others wait their turn', async () => {
    const empresaId = (await createEmpresa(t.ctx)).id;
    const keys: string[] = [];
    for (let i = 0; i < 3; i++) keys.push((await createRouter(t.ctx, empresaId, { host: sim.host, puerto: sim.port, password: 'xyz' })).apiKey);
    sim.slow(150);
    sim.resetStats();
    try {
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => t.request({ method: 'POST', url: '/api/v1/routers/validar-empresa-router', headers: bearer(keys[i % 3]) })),
      );
      for (const r of results) assert.equal(r.data.conexion_ok, true, r.body);
      assert.ok(sim.connections.peak <= 2, `peak ${sim.connections.peak} connections`);
    } finally {
      sim.clearFailures();
    }
  });
});
