import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '../helpers/app.js';

describe('system endpoints', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => t.close());

  it('GET /health answers the legacy shape', async () => {
    const res = await t.request({ method: 'GET', url: '/health' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.data, { status: 'healthy' });
  });

  it('GET / answers the legacy shape with one zone marker', async () => {
    const res = await t.request({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.data.message, 'Sistema de pagos y gestión de accesos WiFi para hotspots MikroTik');
    assert.equal(res.data.version, '2.0.0');
    assert.equal(res.data.status, 'running');
    assert.equal(res.data.docs, '/docs');
    assert.match(res.data.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });

  it('GET /ready is 200 while the database answers', async () => {
    const res = await t.request({ method: 'GET', url: '/ready' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.data, { status: 'ready' });
  });

  it('GET /metrics exposes Prometheus text', async () => {
    await t.request({ method: 'GET', url: '/health' });
    const res = await t.request({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /text\/plain/);
    assert.match(res.body, /http_request_duration_seconds_bucket\{.*route="\/health"/);
  });

  it('serves the OpenAPI document and the docs UI', async () => {
    const doc = await t.request({ method: 'GET', url: '/openapi.json' });
    assert.equal(doc.statusCode, 200);
    assert.equal(doc.data.info.title, 'MikroTik Payment API');
    assert.ok(doc.data.paths['/api/v1/auth/login']);
    const ui = await t.request({ method: 'GET', url: '/docs/' });
    assert.equal(ui.statusCode, 200);
    assert.match(ui.body, /swagger/i);
  });

  it('unknown routes are 404 JSON and wrong methods 405 JSON', async () => {
    const nf = await t.request({ method: 'GET', url: '/api/v1/nope' });
    assert.equal(nf.statusCode, 404);
    assert.deepEqual(nf.data, { detail: 'Not Found', code: 'not_found' });
    const na = await t.request({ method: 'DELETE', url: '/health' });
    assert.equal(na.statusCode, 405);
    assert.deepEqual(na.data, { detail: 'Method Not Allowed', code: 'method_not_allowed' });
  });

  it('every response carries a request id', async () => {
    const res = await t.request({ method: 'GET', url: '/health', headers: { 'x-request-id': 'abc-123' } });
    assert.equal(res.headers['x-request-id'], 'abc-123');
  });
});

describe('readiness when the database goes away', { skip: process.env.TEST_DB === 'pglite' }, () => {
  it('GET /ready is 503 JSON while /health stays 200', async () => {
    const t = await startTestApp();
    try {
      assert.equal((await t.request({ method: 'GET', url: '/ready' })).statusCode, 200);
      await t.database.drop();
      const res = await t.request({ method: 'GET', url: '/ready' });
      assert.equal(res.statusCode, 503);
      assert.deepEqual(res.data, { detail: 'Base de datos no disponible', code: 'database_unavailable' });
      assert.equal((await t.request({ method: 'GET', url: '/health' })).statusCode, 200);
    } finally {
      await t.close();
    }
  });
});

describe('requests while the database is unreachable', { skip: process.env.TEST_DB === 'pglite' }, () => {
  it('answer 503 JSON (temporary), never a 500', async () => {
    const t = await startTestApp();
    try {
      await t.database.drop();
      const res = await t.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'a@example.com', password: 'x' } });
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.data.code, 'database_unavailable');
      assert.equal(res.headers['retry-after'], '5');
    } finally {
      await t.close();
    }
  });
});

describe('error logs', { skip: process.env.TEST_DB === 'pglite' }, () => {
  it('never carry the failed query parameters', async () => {
    const lines: string[] = [];
    const t = await startTestApp({ logLines: lines, env: { LOG_LEVEL: 'warn' } });
    try {
      await t.database.drop();
      await t.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'parametro-secreto@example.com', password: 'x' } });
    } finally {
      await t.close();
    }
    assert.match(lines.join(''), /base de datos no disponible/);
    assert.ok(!lines.join('').includes('parametro-secreto'));
  });
});
