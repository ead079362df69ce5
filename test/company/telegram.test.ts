import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { createTenant } from '../helpers/fixtures.js';
import { empresas } from '../../src/infra/db/schema.js';
import { startTelegramFake, type TelegramFake } from '../../sandbox/telegram.js';
import { TelegramError, TelegramService, escapeHtml } from '../../src/modules/notifications/telegram.js';

describe('Telegram: POST /api/v1/admin/test-telegram and the client', () => {
  let fake: TelegramFake;
  let t: TestApp;
  let a: Awaited<ReturnType<typeof createTenant>>;
  let b: Awaited<ReturnType<typeof createTenant>>;
  const test = (token: string, payload?: object) => t.request({ method: 'POST', url: '/api/v1/admin/test-telegram', headers: bearer(token), ...(payload ? { payload } : {}) });

  before(async () => {
    fake = await startTelegramFake();
    t = await startTestApp({ env: { TELEGRAM_API_BASE: fake.url } });
    a = await createTenant(t);
    b = await createTenant(t);
    await t.ctx.db.orm.update(empresas).set({ nombre: 'Café <Norte> & Hijos' }).where(eq(empresas.id, a.empresa.id));
  });
  after(async () => {
    await t.close();
    await fake.close();
  });

  it('no credentials given or stored → 400 with the legacy message', async () => {
    const res = await test(a.token, {});
    assert.equal(res.statusCode, 400);
    assert.equal(res.data.detail, 'Faltan credenciales (Token o Chat ID)');
    assert.equal((await test(a.token, { token: '1:x' })).statusCode, 400);
    assert.equal(fake.messages.length, 0);
  });

  it('a body is required (422)', async () => {
    const res = await test(a.token);
    assert.equal(res.statusCode, 422);
  });

  it('sends the legacy test message with the company name HTML-escaped (Telegram would reject it otherwise)', async () => {
    const res = await test(a.token, { token: '111:unsaved-token', chat_id: '-1001' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.data, { message: 'Mensaje de prueba enviado con éxito' });
    assert.equal(fake.messages.length, 1);
    const m = fake.messages[0];
    assert.equal(m.token, '111:unsaved-token');
    assert.equal(m.chat_id, '-1001');
    assert.equal(m.parse_mode, 'HTML');
    assert.equal(m.text, '⚡ <b>Prueba de Conexión en Vivo</b>\n🏢 Empresa: Café &lt;Norte&gt; &amp; Hijos\n✅ ¡Tus credenciales son correctas!');
    // Nothing is stored by a test.
    const [row] = await t.ctx.db.orm.select().from(empresas).where(eq(empresas.id, a.empresa.id));
    assert.equal(row.telegramBotToken, null);
  });

  it('falls back to the stored credentials (also when the masked token is sent back)', async () => {
    const put = await t.request({ method: 'PUT', url: '/api/v1/admin/mi-empresa', headers: bearer(a.token), payload: { telegram_bot_token: '222:stored-token', telegram_chat_id: '77' } });
    assert.equal(put.statusCode, 200);
    for (const body of [{}, { token: '********', chat_id: '' }]) {
      const res = await test(a.token, body);
      assert.equal(res.statusCode, 200, res.body);
      const m = fake.messages[fake.messages.length - 1];
      assert.equal(m.token, '222:stored-token');
      assert.equal(m.chat_id, '77');
    }
  });

  it('Telegram failure → 502 with the legacy text, the token never in the answer', async () => {
    fake.failNext(400, 'Bad Request: chat not found');
    const res = await test(a.token, {});
    assert.equal(res.statusCode, 502);
    assert.equal(res.data.detail, 'Error de Telegram. Verifica que el Token sea válido y que hayas iniciado chat con el bot.');
    assert.doesNotMatch(res.body, /stored-token/);
    const bad = await test(a.token, { token: 'not-a-token', chat_id: '1' });
    assert.equal(bad.statusCode, 502);
  });

  it("tenant isolation: B's admin cannot use A's stored credentials", async () => {
    const res = await test(b.token, {});
    assert.equal(res.statusCode, 400);
  });

  it('TelegramService: network failure and HTTP errors throw TelegramError without the token', async () => {
    const dead = new TelegramService('http://127.0.0.1:1', undefined, 2000);
    await assert.rejects(dead.send('333:secret', '1', 'hola'), (err: unknown) => err instanceof TelegramError && err.status === null && !err.message.includes('333'));
    const live = new TelegramService(fake.url);
    fake.failNext(500, 'boom');
    await assert.rejects(live.send('333:secret', '1', 'hola'), (err: unknown) => err instanceof TelegramError && err.status === 500 && err.description === 'boom');
    await live.send('333:secret', '1', `<b>${escapeHtml('a<b>&"c"')}</b>`);
    assert.equal(fake.messages[fake.messages.length - 1].text, '<b>a&lt;b&gt;&amp;&quot;c&quot;</b>');
  });
});
