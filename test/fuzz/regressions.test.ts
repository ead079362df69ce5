/**
 * What the fuzz pass found, pinned as plain examples: each once answered 500 or a body that was not
 * `{detail, code}`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, bearer, type TestApp } from '../helpers/app.js';
import { createTenant } from '../helpers/fixtures.js';

describe('fuzz findings', () => {
  let t: TestApp;
  let sa: string;
  let tenant: Awaited<ReturnType<typeof createTenant>>;

  before(async () => {
    t = await startTestApp();
    sa = await t.superAdminToken();
    tenant = await createTenant(t);
  });
  after(() => t?.close());

  const count = async (table: string) => Number((await t.ctx.db.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))[0].n);

  it('a path parameter longer than the router accepts is a JSON 414 that does not echo the URL', async () => {
    const res = await t.request({ method: 'GET', url: `/admin/usuarios/${'%C3%B1'.repeat(5000)}`, headers: bearer(sa) });
    assert.equal(res.statusCode, 414);
    assert.deepEqual(res.data, { detail: 'La URL es demasiado larga', code: 'uri_too_long' });
  });

  it('a malformed percent-encoding in the path is a JSON 400', async () => {
    const res = await t.request({ method: 'GET', url: '/admin/usuarios/%E0%A4%A', headers: bearer(sa) });
    assert.equal(res.statusCode, 400);
    assert.equal(res.data.code, 'bad_url');
  });

  it('NUL in a query parameter is a 422, not a driver error', async () => {
    const res = await t.request({ method: 'GET', url: '/api/v1/admin/products?router_id=%00', headers: bearer(tenant.token) });
    assert.equal(res.statusCode, 422);
    assert.equal(res.data.code, 'validation_error');
    assert.deepEqual(res.data.detail[0].loc, ['query', 'router_id']);
  });

  it('NUL in a nested body field is a 422 naming the field', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/admin/empresas',
      headers: { ...bearer(sa), 'content-type': 'application/json' },
      payload: JSON.stringify({ nombre: 'Empresa', contacto_email: 'a\u0000@example.com' }),
    });
    assert.equal(res.statusCode, 422);
    assert.deepEqual(res.data.detail[0].loc, ['body', 'contacto_email']);
  });

  it('a lone UTF-16 surrogate (JSON "\\ud83d") is a 422 and writes nothing', async () => {
    const empresas = await count('empresas');
    const auditoria = await count('auditoria');
    const res = await t.request({
      method: 'POST',
      url: '/admin/empresas',
      headers: { ...bearer(sa), 'content-type': 'application/json' },
      payload: '{"nombre":"%\\ud83d\\n","contacto_email":"x@example.com"}',
    });
    assert.equal(res.statusCode, 422);
    assert.equal(res.data.code, 'validation_error');
    assert.equal(await count('empresas'), empresas);
    assert.equal(await count('auditoria'), auditoria);
  });

  it('"Infinity" and 1e309 as paging parameters are a 422, not a database error', async () => {
    for (const url of ['/admin/empresas?limit=Infinity', `/admin/empresas/${tenant.empresa.id}/routers?limit=1e309`, '/admin/auditoria?offset=Infinity']) {
      const res = await t.request({ method: 'GET', url, headers: bearer(sa) });
      assert.equal(res.statusCode, 422, `${url}: ${res.body}`);
      assert.equal(res.data.code, 'validation_error');
    }
    const ok = await t.request({ method: 'GET', url: '/admin/empresas?limit=5', headers: bearer(sa) });
    assert.equal(ok.statusCode, 200);
  });

  it('well-formed emoji and accents still pass', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/admin/empresas',
      headers: { ...bearer(sa), 'content-type': 'application/json' },
      payload: JSON.stringify({ nombre: 'Café Ñandú 🎉', contacto_email: 'x@example.com' }),
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.nombre, 'Café Ñandú 🎉');
  });

  it('a truncated multipart body on the logo upload is a 4xx, not a 500', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/admin/mi-empresa/logo',
      headers: { ...bearer(tenant.token), 'content-type': 'multipart/form-data; boundary=x' },
      payload: '%00',
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.data.code, 'logo_multipart_invalid');
  });
});
