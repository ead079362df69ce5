import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { createTenant } from '../helpers/fixtures.js';
import { auditoria, empresas } from '../../src/infra/db/schema.js';
import { Fernet } from '../../src/infra/crypto/fernet.js';

const MP_KEY = randomBytes(32).toString('base64url') + '=';

describe('gateway credentials: one storage rule for every endpoint', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<typeof createTenant>>;
  let b: Awaited<ReturnType<typeof createTenant>>;
  const req = (token: string, method: string, url: string, payload?: unknown) =>
    t.request({ method: method as 'GET', url, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });
  const row = async (id = a.empresa.id) => (await t.ctx.db.orm.select().from(empresas).where(eq(empresas.id, id)))[0];

  before(async () => {
    t = await startTestApp({
      env: { ENCRYPTION_KEY_MERCADO_PAGO: MP_KEY, CONEKTA_DEFAULT_PRIVATE_KEY: 'key_default_priv', CONEKTA_DEFAULT_PUBLIC_KEY: 'key_default_pub', PUBLIC_BASE_URL: 'https://pagos.example.com' },
    });
    a = await createTenant(t);
    b = await createTenant(t);
  });
  after(async () => t.close());

  it('GET conekta (private key masked) and GET mercado-pago (empty) keep the legacy shapes', async () => {
    const c = await req(a.token, 'GET', '/api/v1/admin/mi-empresa/conekta');
    assert.equal(c.statusCode, 200);
    assert.deepEqual(c.data, { message: 'Configuración cargada', configuracion_actual: { conekta_public_key: 'key_test_public_fixture', conekta_mode: 'test', conekta_private_key: '********', conekta_webhook_configurado: false } });
    const m = await req(a.token, 'GET', '/api/v1/admin/mi-empresa/mercado-pago');
    assert.deepEqual(m.data, { message: 'Configuración cargada', configuracion_actual: { access_token: null, public_key: null, mode: 'test', webhook_secret: null } });
  });

  it('POST configurar-conekta: legacy message; the private key is encrypted at rest and never returned', async () => {
    const res = await req(a.token, 'POST', '/api/v1/admin/mi-empresa/configurar-conekta', { conekta_private_key: 'key_priv_test_123', conekta_public_key: 'key_pub_test_123', conekta_mode: 'live' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.data, { message: 'Credenciales de Conekta actualizadas correctamente' });
    const r = await row();
    assert.ok(!r.conektaPrivateKey.includes('key_priv_test_123'));
    assert.equal(t.ctx.secrets.general.decrypt(r.conektaPrivateKey), 'key_priv_test_123');
    const get = await req(a.token, 'GET', '/api/v1/admin/mi-empresa/conekta');
    assert.deepEqual(get.data.configuracion_actual, { conekta_public_key: 'key_pub_test_123', conekta_mode: 'live', conekta_private_key: '********', conekta_webhook_configurado: false });
    const creds = await t.ctx.companies.getGatewayCredentials(a.empresa.id);
    assert.deepEqual(creds?.conekta, { privateKey: 'key_priv_test_123', publicKey: 'key_pub_test_123', mode: 'live' });
  });

  it('PUT conekta-config: legacy message; omitting the mode leaves it unchanged (the legacy reset it to test); the mask keeps the key', async () => {
    const res = await req(a.token, 'PUT', '/api/v1/admin/mi-empresa/conekta-config', { conekta_public_key: 'key_pub_2', conekta_private_key: '********' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.data, { message: 'Configuración de Conekta actualizada' });
    const creds = await t.ctx.companies.getGatewayCredentials(a.empresa.id);
    assert.deepEqual(creds?.conekta, { privateKey: 'key_priv_test_123', publicKey: 'key_pub_2', mode: 'live' });
    const back = await req(a.token, 'PUT', '/api/v1/admin/mi-empresa/conekta-config', { conekta_mode: 'test' });
    assert.equal(back.statusCode, 200);
    assert.equal((await row()).conektaMode, 'test');
    const bad = await req(a.token, 'PUT', '/api/v1/admin/mi-empresa/conekta-config', { conekta_mode: 'prod' });
    assert.equal(bad.statusCode, 422);
    assert.deepEqual(bad.data.detail[0].loc, ['body', 'conekta_mode']);
  });

  it('Conekta: "" clears the company keys; the platform defaults are then used', async () => {
    const res = await req(a.token, 'POST', '/api/v1/admin/mi-empresa/configurar-conekta', { conekta_private_key: '', conekta_public_key: '' });
    assert.equal(res.statusCode, 200);
    const get = await req(a.token, 'GET', '/api/v1/admin/mi-empresa/conekta');
    assert.equal(get.data.configuracion_actual.conekta_private_key, null);
    const creds = await t.ctx.companies.getGatewayCredentials(a.empresa.id);
    assert.deepEqual(creds?.conekta, { privateKey: 'key_default_priv', publicKey: 'key_default_pub', mode: 'test' });
    const cfg = await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(a.router.apiKey) });
    assert.equal(cfg.data.empresa.conekta_public_key, 'key_default_pub');
    await req(a.token, 'POST', '/api/v1/admin/mi-empresa/configurar-conekta', { conekta_private_key: 'key_priv_3', conekta_public_key: 'key_pub_3' });
    const cfg2 = await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(a.router.apiKey) });
    assert.equal(cfg2.data.empresa.conekta_public_key, 'key_pub_3');
  });

  it('POST mi-empresa/configurar-credenciales: legacy message, but now Fernet-encrypted with ENCRYPTION_KEY_MERCADO_PAGO (the legacy stored it in clear)', async () => {
    const res = await req(a.token, 'POST', '/api/v1/admin/mi-empresa/configurar-credenciales', { public_key: 'TEST-pub-123', access_token: 'TEST-access-1', mode: 'test' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.data, { message: 'Credenciales de Mercado Pago actualizadas correctamente' });
    const r = await row();
    assert.ok(r.mercadoPagoAccessToken?.startsWith('gAAAAA'));
    // Byte-compatible with Python's Fernet: decrypts with the plain legacy key.
    assert.equal(new Fernet(MP_KEY).decrypt(r.mercadoPagoAccessToken!), 'TEST-access-1');
    assert.equal(r.mercadoPagoPublicKey, 'TEST-pub-123');
  });

  it('POST /api/v1/payments/configurar-credenciales: the legacy answer with labels; secrets encrypted', async () => {
    const res = await req(a.token, 'POST', '/api/v1/payments/configurar-credenciales', { access_token: 'TEST-access-token-123', webhook_secret: 'whsec_123', public_key: 'TEST-pub-456', mode: 'test' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.data, {
      success: true,
      message: 'Credenciales actualizadas correctamente',
      empresa: { id: a.empresa.id, nombre: a.empresa.nombre },
      campos_modificados: ['access_token (actualizado)', 'webhook_secret (actualizado)', 'public_key', 'mode'],
      configuracion_actual: { access_token: true, webhook_secret: true, public_key: true, mode: 'test', telegram_configurado: false, telegram_activo: false },
    });
    const r = await row();
    assert.equal(new Fernet(MP_KEY).decrypt(r.mercadoPagoWebhookSecret!), 'whsec_123');
    assert.doesNotMatch(JSON.stringify(await t.ctx.db.orm.select().from(auditoria)), /whsec_123|TEST-access/);
    const get = await req(a.token, 'GET', '/api/v1/admin/mi-empresa/mercado-pago');
    assert.deepEqual(get.data, { message: 'Configuración cargada', configuracion_actual: { access_token: '********', public_key: 'TEST-pub-456', mode: 'test', webhook_secret: '********' } });
    const cfg = await t.request({ method: 'GET', url: '/api/v1/config/public', headers: bearer(a.router.apiKey) });
    assert.equal(cfg.data.empresa.mercadopago_public_key, 'TEST-pub-456');
    const creds = await t.ctx.companies.getGatewayCredentials(a.empresa.id);
    assert.deepEqual(creds?.mercadoPago, { accessToken: 'TEST-access-token-123', publicKey: 'TEST-pub-456', mode: 'test', webhookSecret: 'whsec_123' });
  });

  it('payments configurar-credenciales: {"mode":null} and {} change nothing (legacy "no changes" answer)', async () => {
    for (const body of [{ mode: null }, {}]) {
      const res = await req(a.token, 'POST', '/api/v1/payments/configurar-credenciales', body);
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.data, {
        success: true,
        message: 'No se enviaron cambios. Credenciales actuales se mantienen.',
        empresa: { id: a.empresa.id, nombre: a.empresa.nombre },
        configurado: { access_token: true, webhook_secret: true, public_key: true, mode: 'test', telegram_configurado: false, telegram_activo: false },
      });
    }
  });

  it('payments configurar-credenciales: invalid mode → legacy 422; omitted mode no longer resets to test', async () => {
    const bad = await req(a.token, 'POST', '/api/v1/payments/configurar-credenciales', { mode: 'prod' });
    assert.equal(bad.statusCode, 422);
    assert.deepEqual(bad.data.detail, [{ type: 'literal_error', loc: ['body', 'mode'], msg: "Input should be 'test' or 'live'", input: 'prod', ctx: { expected: "'test' or 'live'" } }]);
    await req(a.token, 'POST', '/api/v1/payments/configurar-credenciales', { mode: 'live' });
    const res = await req(a.token, 'POST', '/api/v1/payments/configurar-credenciales', { public_key: 'TEST-pub-789' });
    assert.deepEqual(res.data.campos_modificados, ['public_key']);
    assert.equal(res.data.configuracion_actual.mode, 'live');
    const admin = await req(a.token, 'POST', '/api/v1/admin/mi-empresa/configurar-credenciales', { public_key: 'TEST-pub-790' });
    assert.equal(admin.statusCode, 200);
    assert.equal((await row()).mercadoPagoMode, 'live');
  });

  it('payments configurar-credenciales: "" clears (eliminado), the mask keeps, Telegram fields stored (token encrypted)', async () => {
    const res = await req(a.token, 'POST', '/api/v1/payments/configurar-credenciales', {
      access_token: '',
      webhook_secret: '********',
      telegram_bot_token: '123:tok',
      telegram_chat_id: '42',
      notificaciones_telegram: true,
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.data.campos_modificados, ['access_token (eliminado)', 'telegram_bot_token', 'telegram_chat_id', 'notificaciones_telegram']);
    assert.deepEqual(res.data.configuracion_actual, { access_token: false, webhook_secret: true, public_key: true, mode: 'live', telegram_configurado: true, telegram_activo: true });
    const r = await row();
    assert.equal(r.mercadoPagoAccessToken, null);
    assert.ok(r.telegramBotToken && r.telegramBotToken !== '123:tok');
    const creds = await t.ctx.companies.getGatewayCredentials(a.empresa.id);
    assert.equal(creds?.mercadoPago.webhookSecret, 'whsec_123');
    assert.deepEqual(creds?.telegram, { botToken: '123:tok', chatId: '42', enabled: true });
  });

  it('legacy clear-text secrets are still read, and re-encrypted by the next write', async () => {
    await t.ctx.db.orm.update(empresas).set({ mercadoPagoAccessToken: 'APP_USR-legacy-plain', telegramBotToken: '999:plain' }).where(eq(empresas.id, b.empresa.id));
    let creds = await t.ctx.companies.getGatewayCredentials(b.empresa.id);
    assert.equal(creds?.mercadoPago.accessToken, 'APP_USR-legacy-plain');
    assert.equal(creds?.telegram.botToken, '999:plain');
    await req(b.token, 'POST', '/api/v1/payments/configurar-credenciales', { access_token: 'APP_USR-legacy-plain' });
    const r = await row(b.empresa.id);
    assert.notEqual(r.mercadoPagoAccessToken, 'APP_USR-legacy-plain');
    creds = await t.ctx.companies.getGatewayCredentials(b.empresa.id);
    assert.equal(creds?.mercadoPago.accessToken, 'APP_USR-legacy-plain');
  });

  it('payments configurar-credenciales on an inactive company is refused, nothing written', async () => {
    await t.ctx.db.orm.update(empresas).set({ activa: false }).where(eq(empresas.id, b.empresa.id));
    try {
      const res = await req(b.token, 'POST', '/api/v1/payments/configurar-credenciales', { public_key: 'nope' });
      // The session guard already refuses admins of inactive companies (401); the legacy 400 "Empresa
      // inactiva" stays as a second line of defence.
      assert.ok(res.statusCode === 401 || (res.statusCode === 400 && res.data.detail === 'Empresa inactiva'), res.body);
      assert.notEqual((await row(b.empresa.id)).mercadoPagoPublicKey, 'nope');
    } finally {
      await t.ctx.db.orm.update(empresas).set({ activa: true }).where(eq(empresas.id, b.empresa.id));
    }
  });

  it("tenant isolation: B's admin reads and writes only B's credentials", async () => {
    const before = await row();
    const get = await req(b.token, 'GET', '/api/v1/admin/mi-empresa/mercado-pago');
    assert.notEqual(get.data.configuracion_actual.public_key, 'TEST-pub-790');
    await req(b.token, 'POST', '/api/v1/admin/mi-empresa/configurar-conekta', { conekta_public_key: 'key_b' });
    await req(b.token, 'POST', '/api/v1/payments/configurar-credenciales', { public_key: 'pub_b' });
    const afterA = await row();
    assert.equal(afterA.conektaPublicKey, before.conektaPublicKey);
    assert.equal(afterA.mercadoPagoPublicKey, before.mercadoPagoPublicKey);
  });

  describe('webhook secret endpoints (the legacy left them unauthenticated)', () => {
    const url = (id: string, what: string) => `/api/v1/webhook/empresa/${id}/${what}`;

    it('configurar-webhook: the company admin sets it; stored encrypted; the secret is never echoed', async () => {
      const res = await req(a.token, 'POST', url(a.empresa.id, 'configurar-webhook'), { webhook_secret: 'whsec_nuevo_muy_secreto' });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.data.success, true);
      assert.equal(res.data.message, 'Clave secreta configurada correctamente');
      assert.deepEqual(res.data.empresa, { id: a.empresa.id, nombre: a.empresa.nombre });
      assert.equal(res.data.webhook_url, 'https://pagos.example.com/api/v1/webhook/mercado-pago');
      assert.equal(res.data.instrucciones.length, 5);
      assert.doesNotMatch(res.body, /whsec_nuevo/);
      assert.equal(new Fernet(MP_KEY).decrypt((await row()).mercadoPagoWebhookSecret!), 'whsec_nuevo_muy_secreto');
    });

    it('configurar-webhook: missing secret → 400; no session → 401; router key → 401', async () => {
      const res = await req(a.token, 'POST', url(a.empresa.id, 'configurar-webhook'), {});
      assert.equal(res.statusCode, 400);
      assert.equal(res.data.detail, 'webhook_secret es requerido');
      const anon = await t.request({ method: 'POST', url: url(a.empresa.id, 'configurar-webhook'), payload: { webhook_secret: 'x' } });
      assert.equal(anon.statusCode, 401);
      const key = await t.request({ method: 'POST', url: url(a.empresa.id, 'configurar-webhook'), headers: bearer(a.router.apiKey), payload: { webhook_secret: 'x' } });
      assert.equal(key.statusCode, 401);
    });

    it("configurar-webhook / estado-webhook: another company's admin → 404, unknown company → 404", async () => {
      const res = await req(b.token, 'POST', url(a.empresa.id, 'configurar-webhook'), { webhook_secret: 'hijack' });
      assert.equal(res.statusCode, 404);
      assert.equal(res.data.detail, 'Empresa no encontrada');
      assert.equal(new Fernet(MP_KEY).decrypt((await row()).mercadoPagoWebhookSecret!), 'whsec_nuevo_muy_secreto');
      assert.equal((await req(b.token, 'GET', url(a.empresa.id, 'estado-webhook'))).statusCode, 404);
      const sa = await t.superAdminToken();
      assert.equal((await req(sa, 'GET', url('EMP_NOPE', 'estado-webhook'))).statusCode, 404);
      assert.equal((await t.request({ method: 'GET', url: url(a.empresa.id, 'estado-webhook') })).statusCode, 401);
    });

    it('estado-webhook: legacy shape for the owner and for a super admin, no secret', async () => {
      for (const token of [a.token, await t.superAdminToken()]) {
        const res = await req(token, 'GET', url(a.empresa.id, 'estado-webhook'));
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(Object.keys(res.data), ['empresa', 'estadisticas', 'configuracion_webhook', 'estado', 'timestamp']);
        assert.deepEqual(res.data.empresa, { id: a.empresa.id, nombre: a.empresa.nombre, modo_mercado_pago: 'live', access_token_configurado: false, webhook_secret_configurado: true });
        assert.deepEqual(res.data.estadisticas, { total_transacciones: 0 });
        assert.deepEqual(res.data.configuracion_webhook, { url: 'https://pagos.example.com/api/v1/webhook/mercado-pago', metodo: 'POST', header_firma: 'X-Signature', tipo_contenido: 'application/json' });
        assert.equal(res.data.estado, 'configurado');
        assert.match(res.data.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/);
        assert.doesNotMatch(res.body, /whsec/);
      }
      const sa = await t.superAdminToken();
      const set = await req(sa, 'POST', url(b.empresa.id, 'configurar-webhook'), { webhook_secret: 'por-super-admin' });
      assert.equal(set.statusCode, 200);
      const st = await req(b.token, 'GET', url(b.empresa.id, 'estado-webhook'));
      assert.equal(st.data.estado, 'configurado');
    });
  });
});

describe('Conekta webhook public key', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => t.close());

  it('is set and cleared through configurar-conekta, validated as PEM, and shown only as configured', async () => {
    const { token } = await createTenant(t);
    const { publicKey } = await import('node:crypto').then((c) => c.generateKeyPairSync('rsa', { modulusLength: 2048 }));
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const post = (payload: Record<string, unknown>) => t.request({ method: 'POST', url: '/api/v1/admin/mi-empresa/configurar-conekta', headers: bearer(token), payload });
    const status = async () => (await t.request({ method: 'GET', url: '/api/v1/admin/mi-empresa/conekta', headers: bearer(token) })).data.configuracion_actual;
    assert.equal((await status()).conekta_webhook_configurado, false);
    const bad = await post({ conekta_webhook_public_key: 'not a key' });
    assert.equal(bad.statusCode, 422);
    assert.deepEqual(bad.data.detail[0].loc, ['body', 'conekta_webhook_public_key']);
    assert.equal((await post({ conekta_webhook_public_key: pem })).statusCode, 200);
    const shown = await status();
    assert.equal(shown.conekta_webhook_configurado, true);
    assert.equal(JSON.stringify(shown).includes('BEGIN PUBLIC KEY'), false);
    assert.equal((await post({ conekta_mode: 'live' })).statusCode, 200);
    assert.equal((await status()).conekta_webhook_configurado, true, 'omitted means unchanged');
    assert.equal((await post({ conekta_webhook_public_key: '' })).statusCode, 200);
    assert.equal((await status()).conekta_webhook_configurado, false, '"" clears it');
  });
});
