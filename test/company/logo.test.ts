import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { testDbKind } from '../helpers/db.js';
import { createTenant } from '../helpers/fixtures.js';
import { empresaLogos } from '../../src/modules/company/logo-store.js';

// A real 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]), Buffer.from('JFIF\0\x01\x01\0\0\x01\0\x01\0\0', 'latin1'), Buffer.from([0xff, 0xd9])]);
const WEBP = Buffer.concat([Buffer.from('RIFF'), Buffer.from([26, 0, 0, 0]), Buffer.from('WEBPVP8L'), Buffer.alloc(14, 1)]);
const GIF = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');

function multipart(parts: Array<{ name: string; filename?: string; type?: string; content: Buffer | string }>) {
  const boundary = '----pagoshotspot' + Math.random().toString(16).slice(2);
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disp = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disp}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`));
    chunks.push(Buffer.isBuffer(p.content) ? p.content : Buffer.from(p.content));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

describe('company logo: upload (content-sniffed, 2 MB) and /static/logos serving', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<typeof createTenant>>;
  let b: Awaited<ReturnType<typeof createTenant>>;
  const upload = (token: string, content: Buffer | string, filename = 'logo.png', type = 'image/png', name = 'file') => {
    const body = multipart([{ name, filename, type, content }]);
    return t.request({ method: 'POST', url: '/api/v1/admin/mi-empresa/logo', headers: { ...bearer(token), 'content-type': body.contentType }, payload: body.payload });
  };

  before(async () => {
    t = await startTestApp();
    a = await createTenant(t);
    b = await createTenant(t);
  });
  after(async () => t.close());

  let firstUrl = '';

  it('accepts a real PNG and serves it byte-identical with caching headers', async () => {
    const res = await upload(a.token, PNG);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.message, 'Logo actualizado correctamente');
    assert.match(res.data.logo_url, new RegExp(`^/static/logos/logo_${a.empresa.id}_[0-9a-f]+\\.png$`));
    firstUrl = res.data.logo_url;
    const img = await t.request({ method: 'GET', url: firstUrl });
    assert.equal(img.statusCode, 200);
    assert.equal(img.headers['content-type'], 'image/png');
    assert.deepEqual(img.rawPayload, PNG);
    assert.match(img.headers['cache-control'] as string, /immutable/);
    const etag = img.headers.etag as string;
    assert.ok(etag);
    const cached = await t.request({ method: 'GET', url: firstUrl, headers: { 'if-none-match': etag } });
    assert.equal(cached.statusCode, 304);
    assert.equal(cached.rawPayload.length, 0);
  });

  it('the logo is in mi-empresa and (additive) in the public config', async () => {
    const info = await t.request({ method: 'GET', url: '/api/v1/admin/mi-empresa', headers: bearer(a.token) });
    assert.equal(info.data.logo_url, firstUrl);
    const cfg = await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(a.router.apiKey) });
    assert.equal(cfg.data.empresa.logo_url, firstUrl);
  });

  it('any instance serves it (stored in the database, not on local disk)', { skip: testDbKind() === 'pglite' && 'in-memory PGlite cannot be shared by two instances' }, async () => {
    const second = await startTestApp({ database: t.database });
    try {
      const img = await second.request({ method: 'GET', url: firstUrl });
      assert.equal(img.statusCode, 200);
      assert.deepEqual(img.rawPayload, PNG);
    } finally {
      await second.close();
    }
  });

  it('refuses a text file named .png, a GIF and an unknown extension with the legacy 400', async () => {
    for (const [content, name, type] of [
      ['esto no es una imagen', 'logo.png', 'image/png'],
      [GIF, 'logo.gif', 'image/gif'],
      ['<svg xmlns="http://www.w3.org/2000/svg"/>', 'logo.svg', 'image/svg+xml'],
      [PNG.subarray(0, 8), 'logo.png', 'image/png'],
    ] as const) {
      const res = await upload(a.token, content as Buffer | string, name, type);
      assert.equal(res.statusCode, 400, name);
      assert.deepEqual(res.data, { detail: 'Formato de imagen no permitido', code: 'logo_format_invalid' });
    }
    const info = await t.request({ method: 'GET', url: '/api/v1/admin/mi-empresa', headers: bearer(a.token) });
    assert.equal(info.data.logo_url, firstUrl);
  });

  it('refuses 3 MB with a clear JSON 413 and keeps the current logo', async () => {
    const big = Buffer.concat([PNG, Buffer.alloc(3 * 1024 * 1024)]);
    const res = await upload(a.token, big);
    assert.equal(res.statusCode, 413, res.body);
    assert.equal(res.data.detail, 'El logo supera el tamaño máximo permitido (2 MB)');
    assert.equal(res.data.code, 'logo_too_large');
    const still = await t.request({ method: 'GET', url: firstUrl });
    assert.equal(still.statusCode, 200);
  });

  it('accepts up to 2 MB', async () => {
    const res = await upload(a.token, Buffer.concat([PNG, Buffer.alloc(2 * 1024 * 1024 - PNG.length)]));
    assert.equal(res.statusCode, 200, res.body);
  });

  it('a new logo replaces the old one (old URL 404); the type comes from the content, not the name', async () => {
    const jpg = await upload(a.token, JPEG, 'LOGO.PNG', 'image/png');
    assert.equal(jpg.statusCode, 200, jpg.body);
    assert.match(jpg.data.logo_url, /\.jpg$/);
    assert.equal((await t.request({ method: 'GET', url: firstUrl })).statusCode, 404);
    const img = await t.request({ method: 'GET', url: jpg.data.logo_url });
    assert.equal(img.headers['content-type'], 'image/jpeg');
    assert.deepEqual(img.rawPayload, JPEG);
    const webp = await upload(a.token, WEBP, 'x.webp', 'image/webp');
    assert.equal(webp.statusCode, 200);
    assert.match(webp.data.logo_url, /\.webp$/);
    const rows = await t.ctx.db.orm.select({ archivo: empresaLogos.archivo }).from(empresaLogos).where(eq(empresaLogos.empresaId, a.empresa.id));
    assert.deepEqual(rows.map((r) => '/static/logos/' + r.archivo), [webp.data.logo_url]);
    firstUrl = webp.data.logo_url;
  });

  it('missing file field or a non-multipart body → 422; no session → 401', async () => {
    const wrongField = await upload(a.token, PNG, 'logo.png', 'image/png', 'imagen');
    assert.equal(wrongField.statusCode, 422);
    assert.deepEqual(wrongField.data.detail[0].loc, ['body', 'file']);
    const json = await t.request({ method: 'POST', url: '/api/v1/admin/mi-empresa/logo', headers: bearer(a.token), payload: { file: 'x' } });
    assert.equal(json.statusCode, 422);
    const body = multipart([{ name: 'file', filename: 'logo.png', type: 'image/png', content: PNG }]);
    const anon = await t.request({ method: 'POST', url: '/api/v1/admin/mi-empresa/logo', headers: { 'content-type': body.contentType }, payload: body.payload });
    assert.equal(anon.statusCode, 401);
  });

  it("tenant isolation: B's upload replaces only B's logo", async () => {
    const res = await upload(b.token, PNG);
    assert.equal(res.statusCode, 200);
    assert.match(res.data.logo_url, new RegExp(`logo_${b.empresa.id}_`));
    assert.equal((await t.request({ method: 'GET', url: firstUrl })).statusCode, 200);
    const infoA = await t.request({ method: 'GET', url: '/api/v1/admin/mi-empresa', headers: bearer(a.token) });
    assert.equal(infoA.data.logo_url, firstUrl);
  });

  it('logos the legacy service wrote to static/logos/ stay reachable (images only)', async () => {
    const dir = join(process.cwd(), 'static', 'logos');
    const existed = existsSync(join(process.cwd(), 'static'));
    const name = `logo_EMP_LEGACY_${randomBytes(3).toString('hex')}`;
    mkdirSync(dir, { recursive: true });
    try {
      writeFileSync(join(dir, `${name}.png`), PNG);
      writeFileSync(join(dir, `${name}.txt.png`), 'not an image');
      const img = await t.request({ method: 'GET', url: `/static/logos/${name}.png` });
      assert.equal(img.statusCode, 200);
      assert.equal(img.headers['content-type'], 'image/png');
      assert.deepEqual(img.rawPayload, PNG);
      assert.equal((await t.request({ method: 'GET', url: `/static/logos/${name}.txt.png` })).statusCode, 404);
    } finally {
      rmSync(join(dir, `${name}.png`), { force: true });
      rmSync(join(dir, `${name}.txt.png`), { force: true });
      if (!existed) rmSync(join(process.cwd(), 'static'), { recursive: true, force: true });
    }
  });

  it('unknown or malformed logo names → 404 JSON', async () => {
    for (const url of ['/static/logos/logo_nope.png', '/static/logos/..%2F..%2Fpackage.json', '/static/logos/.env']) {
      const res = await t.request({ method: 'GET', url });
      assert.equal(res.statusCode, 404, url);
    }
  });
});
