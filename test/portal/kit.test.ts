import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { strFromU8, unzipSync } from 'fflate';
import { bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { createEmpresa, createRouter, createTenant, createUser } from '../helpers/fixtures.js';
import { routers } from '../../src/infra/db/schema.js';

const kitUrl = (routerId: string, query = '') => `/api/v1/admin/routers/${routerId}/portal-kit${query}`;

function unzip(body: Buffer): Record<string, string> {
  const files = unzipSync(new Uint8Array(body));
  return Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, strFromU8(bytes)]));
}

/** The configuration written into login.html. */
function embeddedConfig(files: Record<string, string>): Record<string, string> {
  const m = /window\.PORTAL_CONFIG = (\{[\s\S]*?\});/.exec(files['login.html']);
  assert.ok(m, 'login.html assigns window.PORTAL_CONFIG');
  return JSON.parse(m[1]);
}

describe('captive-portal kit: GET /api/v1/admin/routers/{router_id}/portal-kit', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<typeof createTenant>>;
  let other: Awaited<ReturnType<typeof createTenant>>;

  before(async () => {
    t = await startTestApp({ env: { PUBLIC_BASE_URL: 'https://pagos.example.com', CONEKTA_DEFAULT_PUBLIC_KEY: 'key_default_pub' } });
    a = await createTenant(t);
    other = await createTenant(t);
  });
  after(async () => t?.close());

  it('gives the company admin a zip with the hotspot files, a fresh key embedded, and revokes the old key', async () => {
    const before = await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(a.router.apiKey) });
    assert.equal(before.statusCode, 200, 'the fixture key works before the kit');

    const res = await t.request({ method: 'GET', url: kitUrl(a.router.id), headers: bearer(a.token) });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], 'application/zip');
    assert.match(String(res.headers['content-disposition']), new RegExp(`attachment; filename="portal-${a.router.id}\\.zip"`));
    assert.equal(res.headers['cache-control'], 'no-store');

    const files = unzip(res.rawPayload);
    const names = Object.keys(files).sort();
    assert.equal(names.length, 6, names.join());
    assert.ok(names.includes('pagado.html'), 'the page the checkout returns to (issue 13)');
    assert.ok(names.includes('pagos-hotspot.rsc'), 'the RouterOS script of the walled garden (issue 13)');
    const js = names.find((n) => /^portal-[0-9a-f]{12}\.js$/.test(n));
    const css = names.find((n) => /^portal-[0-9a-f]{12}\.css$/.test(n));
    assert.ok(js && css, names.join());
    assert.ok(names.includes('login.html') && names.includes('README.txt'));

    // login.html keeps the router's variables for the router to fill in, and references its script and style.
    const html = files['login.html'];
    // Issue 13: no card field in a page the router serves over plain HTTP (the card goes to our HTTPS checkout).
    assert.doesNotMatch(html, /cc-number|cc-exp|cc-csc|f-numero|f-vence|f-cvc|tarjeta\]/i, 'login.html has no card field');
    assert.doesNotMatch(files['pagado.html'], /cc-number|cc-exp|cc-csc/i, 'pagado.html has no card field');
    assert.match(files['pagado.html'], /data-pagina="pagado"/);
    for (const v of ['$(mac)', '$(ip)', '$(link-login-only)', '$(link-orig)', '$(link-orig-esc)', '$(chap-id)', '$(chap-challenge)', '$(error)']) {
      assert.ok(html.includes(v), `login.html uses ${v}`);
    }
    assert.doesNotMatch(html, /__PORTAL_[A-Z]+__/);
    assert.ok(html.includes(`<script src="${js}" defer></script>`));
    assert.ok(html.includes(`<link rel="stylesheet" href="${css}">`));
    assert.doesNotMatch(html, /<script[^>]+src="https?:/, 'no framework or CDN script in the page');

    const config = embeddedConfig(files);
    assert.equal(config.apiBase, 'https://pagos.example.com');
    assert.equal(config.routerId, a.router.id);
    assert.equal(config.gateway, 'auto');
    assert.equal(config.conektaJsUrl, 'https://cdn.conekta.io/js/latest/conekta.js');
    assert.equal(config.mercadoPagoJsUrl, 'https://sdk.mercadopago.com/js/v2');
    assert.equal(config.keyId, res.headers['x-api-key-id']);
    assert.match(config.keyId, /^key_[0-9a-f]{16}$/);

    // The embedded key sells on this router; the previous one is revoked.
    const withNew = await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(config.apiKey) });
    assert.equal(withNew.statusCode, 200, withNew.body);
    assert.equal(withNew.data.router.id, a.router.id);
    const withOld = await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(a.router.apiKey) });
    assert.equal(withOld.statusCode, 401);
    assert.equal(withOld.data.detail, 'API Key no válida o revocada');

    // The README tells the operator about the new key and the walled garden.
    const readme = files['README.txt'];
    assert.match(readme, /API key NUEVA/);
    assert.match(readme, /REVOCADAS/);
    assert.ok(readme.includes(js) && readme.includes(css), 'the README names the files to upload');
    assert.ok(!readme.includes('$('), 'nothing the router would rewrite if the README were uploaded too');
    for (const host of ['pagos.example.com', 'cdn.conekta.io', 'api.conekta.io', 'sdk.mercadopago.com', 'api.mercadopago.com']) {
      assert.ok(readme.includes(`add dst-host=${host} `), `walled garden lists ${host}`);
      assert.ok(readme.includes(`add action=accept dst-host=${host} `), `walled garden ip lists ${host}`);
    }
  });

  it('a second download revokes the first kit key', async () => {
    const first = embeddedConfig(unzip((await t.request({ method: 'GET', url: kitUrl(a.router.id), headers: bearer(a.token) })).rawPayload));
    const second = embeddedConfig(unzip((await t.request({ method: 'GET', url: kitUrl(a.router.id), headers: bearer(a.token) })).rawPayload));
    assert.notEqual(first.apiKey, second.apiKey);
    assert.equal((await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(first.apiKey) })).statusCode, 401);
    assert.equal((await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(second.apiKey) })).statusCode, 200);
  });

  it('limits the walled garden to the chosen gateway', async () => {
    const res = await t.request({ method: 'GET', url: kitUrl(a.router.id, '?pasarela=conekta'), headers: bearer(a.token) });
    assert.equal(res.statusCode, 200);
    const files = unzip(res.rawPayload);
    assert.equal(embeddedConfig(files).gateway, 'conekta');
    assert.ok(files['README.txt'].includes('dst-host=api.conekta.io'));
    assert.ok(!files['README.txt'].includes('mercadopago'));
  });

  it('refuses an unknown gateway with a 422', async () => {
    const res = await t.request({ method: 'GET', url: kitUrl(a.router.id, '?pasarela=paypal'), headers: bearer(a.token) });
    assert.equal(res.statusCode, 422);
    assert.equal(res.data.code, 'validation_error');
  });

  it("another company's router is not found, and its key is left alone", async () => {
    const res = await t.request({ method: 'GET', url: kitUrl(other.router.id), headers: bearer(a.token) });
    assert.equal(res.statusCode, 404);
    assert.equal(res.data.detail, 'Router no encontrado o no pertenece a tu empresa');
    assert.equal((await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(other.router.apiKey) })).statusCode, 200);
    const missing = await t.request({ method: 'GET', url: kitUrl('RTR_NOEXISTE'), headers: bearer(a.token) });
    assert.equal(missing.statusCode, 404);
  });

  it('lets a super admin download any router kit, and audits it', async () => {
    const sa = await t.superAdminToken();
    const res = await t.request({ method: 'GET', url: kitUrl(other.router.id), headers: bearer(sa) });
    assert.equal(res.statusCode, 200, res.body);
    const keyId = res.headers['x-api-key-id'];
    const audit = await t.request({ method: 'GET', url: `/admin/auditoria?accion=router.portal_kit&empresa_id=${other.empresa.id}`, headers: bearer(sa) });
    assert.equal(audit.statusCode, 200, audit.body);
    assert.equal(audit.data.length, 1);
    const entry = audit.data[0];
    assert.equal(entry.recurso_id, other.router.id);
    assert.equal(entry.rol, 'super_admin');
    assert.equal(entry.detalles.key_id, keyId);
    assert.ok(!JSON.stringify(entry).includes('jwt_'), 'the key itself is never in the audit log');
  });

  it('refuses an inactive router', async () => {
    const e = await createEmpresa(t.ctx);
    const r = await createRouter(t.ctx, e.id);
    const admin = await createUser(t.ctx, { rol: 'cliente_admin', empresaId: e.id });
    const token = await t.login(admin.email, admin.password);
    await t.ctx.db.orm.update(routers).set({ activo: false }).where(eq(routers.id, r.id));
    const res = await t.request({ method: 'GET', url: kitUrl(r.id), headers: bearer(token) });
    assert.equal(res.statusCode, 400);
    assert.equal(res.data.detail, 'El router está inactivo. Actívalo primero desde el panel.');
  });

  it('requires an admin session (not a router key)', async () => {
    assert.equal((await t.request({ method: 'GET', url: kitUrl(a.router.id) })).statusCode, 401);
    const withKey = await t.request({ method: 'GET', url: kitUrl(a.router.id), headers: bearer(other.router.apiKey) });
    assert.equal(withKey.statusCode, 401);
  });

  it('without PUBLIC_BASE_URL: 409 that says so, never the Host header, and the router keeps its key', async () => {
    const t2 = await startTestApp();
    try {
      const b = await createTenant(t2);
      const res = await t2.request({ method: 'GET', url: kitUrl(b.router.id), headers: { ...bearer(b.token), host: 'evil.example.com' } });
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(res.data.code, 'public_base_url_required');
      assert.match(res.data.detail, /PUBLIC_BASE_URL/);
      const still = await t2.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(b.router.apiKey) });
      assert.equal(still.statusCode, 200, 'the router key was not revoked');
    } finally {
      await t2.close();
    }
  });

  it('PUBLIC_BASE_URL with a port: the kit and its walled garden use it', async () => {
    const t2 = await startTestApp({ env: { PUBLIC_BASE_URL: 'https://api.wifi.example.mx:8443' } });
    try {
      const b = await createTenant(t2);
      const res = await t2.request({ method: 'GET', url: kitUrl(b.router.id), headers: { ...bearer(b.token), host: 'evil.example.com' } });
      assert.equal(res.statusCode, 200, res.body);
      const files = unzip(res.rawPayload);
      assert.equal(embeddedConfig(files).apiBase, 'https://api.wifi.example.mx:8443');
      assert.match(files['README.txt'], /puerto 8443/);
      assert.ok(!JSON.stringify(files).includes('evil.example.com'));
    } finally {
      await t2.close();
    }
  });
});

describe('CORS for the captive portal', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { BACKEND_CORS_ORIGINS: '["https://panel.example.com"]' } });
  });
  after(async () => t?.close());

  it('answers preflights of portal endpoints from any router origin, without credentials', async () => {
    for (const url of ['/api/v1/config/public', '/api/v1/catalogo_perfiles_venta', '/api/v1/payments/pagar-conekta', '/api/v1/payments/transacciones/abc', '/api/v1/hotspot/auto-reconnect']) {
      const res = await t.request({
        method: 'OPTIONS',
        url,
        headers: { origin: 'http://10.5.50.1', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,idempotency-key' },
      });
      assert.equal(res.statusCode, 204, url);
      assert.equal(res.headers['access-control-allow-origin'], 'http://10.5.50.1', url);
      assert.equal(res.headers['access-control-allow-credentials'], undefined, url);
      assert.match(String(res.headers['access-control-allow-headers']), /idempotency-key/i);
    }
  });

  it('keeps the configured origins for the admin endpoints', async () => {
    const res = await t.request({ method: 'OPTIONS', url: '/api/v1/auth/login', headers: { origin: 'http://10.5.50.1', 'access-control-request-method': 'POST' } });
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    const ok = await t.request({ method: 'OPTIONS', url: '/api/v1/auth/login', headers: { origin: 'https://panel.example.com', 'access-control-request-method': 'POST' } });
    assert.equal(ok.headers['access-control-allow-origin'], 'https://panel.example.com');
    assert.equal(ok.headers['access-control-allow-credentials'], 'true');
    const kit = await t.request({ method: 'OPTIONS', url: '/api/v1/admin/routers/RTR_X/portal-kit', headers: { origin: 'http://10.5.50.1', 'access-control-request-method': 'GET' } });
    assert.equal(kit.headers['access-control-allow-origin'], undefined);
  });
});

describe('captive-portal kit contents', () => {
  it('never lets the router see a variable in the embedded configuration', async () => {
    const { buildPortalFiles, scriptJson } = await import('../../src/modules/portal/kit.js');
    assert.equal(JSON.parse(scriptJson({ a: '$(mac)</script>' })).a, '$(mac)</script>');
    assert.ok(!scriptJson({ a: '$(mac)</script>' }).includes('$'));
    const files = buildPortalFiles({
      apiBase: 'https://pagos.example.com/$(identity)',
      apiKey: 'jwt_x',
      keyId: 'key_0123456789abcdef',
      routerId: 'RTR_00000001',
      routerNombre: 'R',
      empresaNombre: 'E',
      gateway: 'auto',
      conektaJsUrl: 'https://cdn.conekta.io/js/latest/conekta.js',
      mercadoPagoJsUrl: 'https://sdk.mercadopago.com/js/v2',
      generatedAt: new Date('2026-01-02T03:04:05Z'),
    });
    const html = files['login.html'];
    assert.ok(!html.includes('$(identity)'));
    assert.equal(embeddedConfig(files).apiBase, 'https://pagos.example.com/$(identity)');
  });
});

describe('kit RouterOS script (issue 13)', () => {
  it('adds our host and the gateways by name and by resolved address, and blocks QUIC', async () => {
    const { kitRouterScript } = await import('../../src/modules/portal/kit.js');
    const rsc = kitRouterScript({ apiBase: 'https://pagos.example.com', gateway: 'auto', conektaJsUrl: 'https://cdn.conekta.io/js/latest/conekta.js', mercadoPagoJsUrl: 'https://sdk.mercadopago.com/js/v2' });
    for (const h of ['pagos.example.com', 'pay.conekta.com', 'api.conekta.io', 'sdk.mercadopago.com', 'api.mercadopago.com']) assert.ok(rsc.includes(`"${h}"`), h);
    assert.match(rsc, /\/ip hotspot walled-garden ip add action=accept dst-address=\$a protocol=tcp dst-port=443/);
    assert.match(rsc, /:resolve \$h/);
    assert.match(rsc, /\/ip firewall filter add chain=forward action=drop protocol=udp dst-port=443 hotspot=from-client/);
  });
});
