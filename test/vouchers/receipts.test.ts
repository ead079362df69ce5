/**
 * E-mail receipts (issue 15 acceptance): after an approved online sale the buyer's receipt reaches the
 * SMTP server (a real `smtp-server` on port 0 recording every message) with the right credentials, plan,
 * amount and referencia; a declined card sends none; without SMTP_URL nothing is queued.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SMTPServer } from 'smtp-server';
import type { TestApp } from '../helpers/app.js';
import { auth, conektaBody, createShop, startFakes, startPaymentsApp, waitFor, type Fakes, type Shop } from '../payments/helpers.js';

interface Recorded {
  from: string;
  to: string[];
  raw: string;
}

async function startSmtp(): Promise<{ url: string; messages: Recorded[]; close(): Promise<void> }> {
  const messages: Recorded[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as { port: number }).port;
  return { url: `smtp://127.0.0.1:${port}`, messages, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** The text part of a simple nodemailer message, with quoted-printable undone. */
function bodyText(raw: string): string {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  const latin1 = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(latin1, 'latin1').toString('utf8');
}

describe('e-mail receipts', () => {
  let f: Fakes;
  let t: TestApp;
  let shop: Shop;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  before(async () => {
    f = await startFakes();
    smtp = await startSmtp();
    t = await startPaymentsApp(f, { env: { SMTP_URL: smtp.url, SMTP_FROM: 'Recibos <recibos@example.com>' } });
    shop = await createShop(t);
    await t.ctx.payments.startWorkers();
  });
  after(async () => {
    await t.close();
    await shop.sim.close();
    await smtp.close();
    await f.close();
  });

  it('an approved sale sends one receipt with plan, amount, credentials and referencia', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v1/payments/pagar-conekta', headers: auth(shop.apiKey), payload: conektaBody(shop.productId, undefined, { email_cliente: 'compradora@example.com' }) });
    assert.equal(res.statusCode, 200, res.body);
    const { usuario, contrasena } = res.data.usuario_hotspot;
    const msg = await waitFor('receipt at the SMTP server', () => smtp.messages.find((m) => m.to.includes('compradora@example.com')));
    assert.equal(msg.from, 'recibos@example.com');
    const text = bodyText(msg.raw);
    assert.match(text, new RegExp(`Usuario: ${usuario}\\b`));
    assert.match(text, new RegExp(`Contraseña: ${contrasena}\\b`));
    assert.match(text, new RegExp(`Referencia: ${res.data.referencia}`));
    assert.match(text, /Importe: \$19\.99 MXN/);
    assert.match(text, /Plan: 1 Hora <Rápida>/);
    // Runs the outbox once more: the job is done, no second message.
    await t.ctx.payments.outbox.drain();
    assert.equal(smtp.messages.filter((m) => m.to.includes('compradora@example.com')).length, 1);
  });

  it('a declined card sends no receipt', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/payments/pagar-conekta',
      headers: auth(shop.apiKey),
      payload: conektaBody(shop.productId, 'tok_test_decline_card_declined', { email_cliente: 'rechazada@example.com' }),
    });
    assert.equal(res.data.estado, 'rechazada', res.body);
    // An approved sale after it: once its receipt arrived, the declined one would have been sent before it.
    const ok = await t.request({ method: 'POST', url: '/api/v1/payments/pagar-conekta', headers: auth(shop.apiKey), payload: conektaBody(shop.productId, undefined, { email_cliente: 'despues@example.com' }) });
    assert.equal(ok.statusCode, 200, ok.body);
    await waitFor('later receipt', () => smtp.messages.find((m) => m.to.includes('despues@example.com')));
    assert.equal(smtp.messages.filter((m) => m.to.includes('rechazada@example.com')).length, 0);
    const [jobs] = await t.ctx.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM outbox o JOIN transacciones t ON t.id = (o.payload->>'transaccionId')::int WHERE o.kind = 'fichas.recibo' AND t.cliente_email = 'rechazada@example.com'`,
    );
    assert.equal(jobs.n, 0);
  });

  it("the receipt's date is in the company's zona_horaria (storage stays UTC)", async () => {
    const z = await t.request({ method: 'PUT', url: '/api/v1/admin/mi-empresa', headers: { authorization: `Bearer ${shop.adminToken}` }, payload: { zona_horaria: 'Asia/Tokyo' } });
    assert.equal(z.statusCode, 200, z.body);
    const res = await t.request({ method: 'POST', url: '/api/v1/payments/pagar-conekta', headers: auth(shop.apiKey), payload: conektaBody(shop.productId, undefined, { email_cliente: 'tokio@example.com' }) });
    assert.equal(res.statusCode, 200, res.body);
    const msg = await waitFor('receipt (Tokyo)', () => smtp.messages.find((m) => m.to.includes('tokio@example.com')));
    const [row] = await t.ctx.db.query<{ pagada_en: string }>(`SELECT pagada_en::text AS pagada_en FROM transacciones WHERE referencia = $1`, [res.data.referencia]);
    const at = new Date(row.pagada_en.replace(' ', 'T') + 'Z');
    const norm = (x: string) => x.replace(/[\s\u202f\u00a0]+/g, ' ');
    const expected = (zone: string) => norm(new Intl.DateTimeFormat('es-MX', { timeZone: zone, dateStyle: 'medium', timeStyle: 'short' }).format(at));
    const text = norm(bodyText(msg.raw));
    assert.ok(text.includes(`Fecha: ${expected('Asia/Tokyo')} (Asia/Tokyo)`), text);
    assert.notEqual(expected('Asia/Tokyo'), expected('UTC'));
    await t.request({ method: 'PUT', url: '/api/v1/admin/mi-empresa', headers: { authorization: `Bearer ${shop.adminToken}` }, payload: { zona_horaria: 'America/Mexico_City' } });
  });
});
