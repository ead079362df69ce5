/** Purchases through HTTP: legacy shapes, cents, validation before money moves, declines, pending payments. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODE_MESSAGES, PAYMENT_STATUS_MESSAGES } from '../../src/modules/payments/gateways/conekta-tables.js';
import { STATUS_DETAIL_MESSAGES } from '../../src/modules/payments/gateways/mercadopago-tables.js';
import { auth, conektaBody, createShop, mpBody, routerUsers, txByRef, usePaymentsShop, uniq } from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('purchases', () => {
  const env = usePaymentsShop();
  const buy = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    env.t.request({ method: 'POST', url, headers: { ...auth(env.shop.apiKey), ...headers }, payload: payload as Record<string, unknown> });

  it('Conekta: charges 19.99 as 1999 cents, creates the voucher and answers the legacy shape', async () => {
    const res = await buy('/api/v1/payments/pagar-conekta', conektaBody(env.shop.productId));
    assert.equal(res.statusCode, 200, res.body);
    const d = res.data;
    assert.equal(d.success, true);
    assert.match(d.id_transaccion, /^ord_/);
    assert.equal(d.estado_pago, 'paid');
    assert.equal(d.tipo_usuario, 'usuario_contrasena');
    assert.match(d.usuario_hotspot.usuario, /^PT-[A-Z0-9]{5}$/);
    assert.match(d.usuario_hotspot.contrasena, /^\d{4}$/);
    assert.deepEqual(d.producto, { nombre: '1 Hora <Rápida>', precio: 19.99, moneda: 'MXN', perfil_mikrotik: '1_HORA' });
    assert.deepEqual(d.cliente, { nombre: 'Ana <b>López</b> & Co', email: 'Ana@example.com' });
    assert.match(d.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?$/);
    assert.deepEqual(d.auto_conexion, { estado: 'no_conectado', mac: '', ip: '', mensaje: 'Favor de ingresar sus credenciales para conectar a Internet', verificado: false });
    assert.match(d.referencia, UUID);
    assert.equal(d.estado, 'entregada');
    assert.equal(d.estado_hotspot, 'active');
    assert.deepEqual(Object.keys(d).slice(0, 9), ['success', 'id_transaccion', 'estado_pago', 'tipo_usuario', 'usuario_hotspot', 'producto', 'cliente', 'timestamp', 'auto_conexion']);

    const order = env.f.conekta.state.orders.get(d.id_transaccion)!;
    assert.equal(order.amount, 1999);
    assert.equal((order as any).line_items.data[0].unit_price, 1999);
    const users = routerUsers(env.shop.sim, d.usuario_hotspot.usuario);
    assert.equal(users.length, 1);
    assert.equal(users[0].password, d.usuario_hotspot.contrasena);
    assert.equal(users[0].profile, '1_HORA');
    assert.equal(users[0].comment, `pagos-hotspot tx=${d.referencia}`);
    assert.equal(users[0]['limit-uptime'], '1h');

    const row = await txByRef(env.t.ctx, d.referencia);
    assert.equal(row.estado, 'entregada');
    assert.equal(row.estadoPago, 'paid');
    assert.equal(row.estadoHotspot, 'active');
    assert.equal(row.montoCentavos, 1999);
    assert.equal(row.monto, '19.99');
    assert.equal(row.transaccionId, d.id_transaccion);
    assert.notEqual(row.passwordHotspot, d.usuario_hotspot.contrasena, 'voucher password encrypted at rest');
    assert.ok(row.passwordHotspot!.startsWith('gAAAAA'));
  });

  it('the company gets an HTML-escaped Telegram notice for a Conekta sale', async () => {
    const res = await buy('/api/v1/payments/pagar-conekta', conektaBody(env.shop.productId));
    assert.equal(res.statusCode, 200);
    const user = res.data.usuario_hotspot.usuario;
    const msg = await env.t.ctx.payments.outbox.drain().then(() => env.f.telegram.messages.find((m) => m.text.includes(user)));
    assert.ok(msg, 'aviso enviado');
    assert.equal(msg.parse_mode, 'HTML');
    assert.equal(msg.chat_id, '-100200300');
    assert.match(msg.text, /✅ <b>¡Pago Aprobado!<\/b>/);
    assert.ok(msg.text.includes('Ana &lt;b&gt;López&lt;/b&gt; &amp; Co'));
    assert.ok(msg.text.includes('Hotspot &lt;Café&gt; &amp; Cía'));
    assert.ok(msg.text.includes(`<code>${res.data.usuario_hotspot.contrasena}</code>`));
  });

  it('PIN vouchers: PT- + digits, no password; the Telegram notice shows the PIN', async () => {
    const res = await buy('/api/v1/payments/pagar-conekta', conektaBody(env.shop.pinProductId));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.tipo_usuario, 'pin');
    assert.match(res.data.usuario_hotspot.usuario, /^PT-\d{8}$/);
    assert.equal(res.data.usuario_hotspot.contrasena, '');
    assert.equal(res.data.producto.precio, 60);
    assert.equal(routerUsers(env.shop.sim, res.data.usuario_hotspot.usuario)[0].password, undefined);
    await env.t.ctx.payments.outbox.drain();
    const msg = env.f.telegram.messages.find((m) => m.text.includes(res.data.usuario_hotspot.usuario))!;
    assert.ok(msg.text.includes(`🔑 <b>PIN:</b> <code>${res.data.usuario_hotspot.usuario}</code>`));
  });

  it('accepts the English field names too', async () => {
    const res = await buy('/api/v1/payments/pagar-conekta', {
      product_id: env.shop.productId,
      card_token: `tok_test_visa_4242_${uniq()}`,
      customer_name: 'Carla',
      customer_email: 'carla@example.com',
      user_type: 'pin',
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.tipo_usuario, 'pin');
  });

  it('Mercado Pago: approved sale with the legacy shape, charged the product price', async () => {
    const body = mpBody(env.shop.productId);
    const res = await buy('/api/v1/payments/pagar-mercado-pago', body);
    assert.equal(res.statusCode, 200, res.body);
    const d = res.data;
    assert.equal(d.success, true);
    assert.equal(d.estado_pago, 'approved');
    assert.equal(typeof d.id_transaccion, 'string');
    assert.equal(d.mercado_pago.payment_id, Number(d.id_transaccion));
    assert.equal(d.mercado_pago.status, 'approved');
    assert.equal(d.mercado_pago.status_detail, 'accredited');
    assert.equal(d.mercado_pago.installments, 1);
    assert.deepEqual(d.mercado_pago.payment_method, { id: 'visa', type: 'credit_card', issuer: '160', last_four_digits: '3704', installments: 1 });
    assert.equal(d.mercado_pago.raw_response.external_reference, d.referencia);
    assert.equal(d.mercado_pago.raw_response.payer, undefined, 'no payer data to the browser');
    assert.equal(d.estado_hotspot, 'active');
    const payment = env.f.mp.state.payments.get(Number(d.id_transaccion))!;
    assert.equal(payment.transaction_amount, 19.99);
    assert.equal(payment.external_reference, d.referencia);
    const sent = env.f.mp.state.requests.filter((r) => r.method === 'POST').at(-1)!;
    assert.equal(sent.headers['x-idempotency-key'], d.referencia);
    assert.equal(sent.headers['x-meli-session-id'], 'dev-1');
    assert.equal((sent.body as any).notification_url, 'https://pagos.example.com/api/v1/webhook/mercado-pago?source_news=webhooks');
    const row = await txByRef(env.t.ctx, d.referencia);
    assert.equal(row.externalReference, d.referencia);
    assert.equal(row.estadoPago, 'approved');
  });

  it('Mercado Pago: a monto off by more than 0.01 is refused with the legacy message, nothing charged', async () => {
    const before = env.f.mp.state.requests.length;
    const res = await buy('/api/v1/payments/pagar-mercado-pago', mpBody(env.shop.productId, undefined, { monto: 50 }));
    assert.equal(res.statusCode, 400);
    assert.equal(res.data.detail, 'El monto ($50.00) no coincide con el producto ($19.99)');
    assert.match(res.data.referencia, UUID);
    const ok = await buy('/api/v1/payments/pagar-mercado-pago', mpBody(env.shop.productId, undefined, { transaction_amount: 19.98, monto: undefined }));
    assert.equal(ok.statusCode, 200, 'within a cent is accepted');
    assert.equal(env.f.mp.state.requests.length, before + 1);
  });

  it('every Conekta decline row answers its legacy status and message, with referencia, and leaves no voucher', async () => {
    const usersBefore = routerUsers(env.shop.sim).length;
    for (const [key, message] of ERROR_CODE_MESSAGES) {
      const res = await buy('/api/v1/payments/pagar-conekta', conektaBody(env.shop.productId, `tok_test_decline_${key}~${uniq()}`));
      assert.equal(res.statusCode, 402, `${key}: ${res.body}`);
      assert.equal(res.data.detail, message, key);
      assert.match(res.data.referencia, UUID);
      assert.equal(res.data.estado, 'rechazada');
    }
    for (const [status, message] of Object.entries(PAYMENT_STATUS_MESSAGES)) {
      const res = await buy('/api/v1/payments/pagar-conekta', conektaBody(env.shop.productId, `tok_test_status_${status}~${uniq()}`));
      assert.equal(res.statusCode, 402, status);
      assert.equal(res.data.detail, message);
    }
    assert.equal(routerUsers(env.shop.sim).length, usersBefore);
    await env.t.ctx.payments.outbox.drain();
    assert.ok(env.f.telegram.messages.some((m) => m.text.startsWith('❌ <b>Pago Rechazado</b>') && m.text.includes('Tarjeta declinada. Contacte a su banco.')));
  });

  it('every Mercado Pago status_detail row answers 402 with its legacy message', async () => {
    for (const [detail, message] of STATUS_DETAIL_MESSAGES) {
      const res = await buy('/api/v1/payments/pagar-mercado-pago', mpBody(env.shop.productId, `rej_${detail}~${uniq()}`));
      assert.equal(res.statusCode, 402, `${detail}: ${res.body}`);
      assert.equal(res.data.detail, message);
      assert.equal((await txByRef(env.t.ctx, res.data.referencia)).estado, 'rechazada');
    }
    const v = await buy('/api/v1/payments/pagar-mercado-pago', mpBody(env.shop.productId, 'val400'));
    assert.equal(v.statusCode, 400);
    assert.equal(v.data.detail, 'Error de validación: Invalid card_token_id');
  });

  it('Conekta legacy pre-check: the literal test token is refused before any call', async () => {
    const before = env.f.conekta.state.requests.length;
    const res = await buy('/api/v1/payments/pagar-conekta', conektaBody(env.shop.productId, 'tok_2zD9Phs4sGnJN9ckc'));
    assert.equal(res.statusCode, 400);
    assert.equal(res.data.detail, 'Token de tarjeta inválido o ya utilizado.');
    assert.equal(env.f.conekta.state.requests.length, before);
  });

  it('over-long fields are refused with 422 before any gateway call (legacy money-loss bug)', async () => {
    const beforeC = env.f.conekta.state.requests.length;
    const beforeM = env.f.mp.state.requests.length;
    const cases: Record<string, unknown>[] = [
      { telefono_cliente: '+52 (55) 1234-5678 x12' },
      { nombre_cliente: 'x'.repeat(101) },
      { email_cliente: `${'a'.repeat(60)}@${'b'.repeat(40)}.com` },
      { mac_cliente: 'A'.repeat(65) },
    ];
    for (const extra of cases) {
      const c = await buy('/api/v1/payments/pagar-conekta', conektaBody(env.shop.productId, undefined, extra));
      assert.equal(c.statusCode, 422, JSON.stringify(extra));
      assert.equal(c.data.code, 'validation_error');
      assert.match(c.data.referencia, UUID);
      const m = await buy('/api/v1/payments/pagar-mercado-pago', mpBody(env.shop.productId, undefined, extra));
      assert.equal(m.statusCode, 422);
    }
    const phone = await buy('/api/v1/payments/pagar-conekta', conektaBody(env.shop.productId, undefined, { telefono_cliente: '+52 (55) 1234-5678 x12' }));
    assert.deepEqual(phone.data.detail[0].loc, ['body', 'telefono_cliente']);
    assert.equal(phone.data.detail[0].type, 'string_too_long');
    assert.equal(env.f.conekta.state.requests.length, beforeC);
    assert.equal(env.f.mp.state.requests.length, beforeM);
  });

  it('empty bodies give the legacy 422 lists (transcript 63, 64)', async () => {
    const c = await buy('/api/v1/payments/pagar-conekta', {});
    assert.equal(c.statusCode, 422);
    assert.deepEqual(
      c.data.detail.map((i: any) => [i.type, i.loc.join('.'), i.msg]),
      [
        ['missing', 'body.producto_id', 'Field required'],
        ['missing', 'body.token_tarjeta', 'Field required'],
        ['missing', 'body.nombre_cliente', 'Field required'],
        ['missing', 'body.email_cliente', 'Field required'],
      ],
    );
    const m = await buy('/api/v1/payments/pagar-mercado-pago', {});
    assert.deepEqual(
      m.data.detail.map((i: any) => i.loc[1]),
      ['producto_id', 'payment_method_id', 'token', 'monto', 'nombre_cliente', 'email_cliente'],
    );
    const bad = await buy('/api/v1/payments/pagar-conekta', conektaBody(env.shop.productId, undefined, { email_cliente: 'no-es-correo' }));
    assert.equal(bad.statusCode, 422);
    assert.deepEqual(bad.data.detail[0].loc, ['body', 'email_cliente']);
    const tipo = await buy('/api/v1/payments/pagar-conekta', conektaBody(env.shop.productId, undefined, { tipo_usuario: 'otro' }));
    assert.equal(tipo.statusCode, 422);
  });

  it('products must be active and of this router: 404 "Producto no encontrado"', async () => {
    const other = await createShop(env.t);
    const res = await buy('/api/v1/payments/pagar-conekta', conektaBody(other.productId));
    assert.equal(res.statusCode, 404);
    assert.equal(res.data.detail, 'Producto no encontrado');
    await env.t.ctx.db.query('UPDATE productos SET activo = false WHERE id = $1', [env.shop.pinProductId]);
    const inactive = await buy('/api/v1/payments/pagar-conekta', conektaBody(env.shop.pinProductId));
    assert.equal(inactive.statusCode, 404);
    await env.t.ctx.db.query('UPDATE productos SET activo = true WHERE id = $1', [env.shop.pinProductId]);
    await other.sim.close();
  });

  it('a session token is not a router key', async () => {
    const res = await env.t.request({ method: 'POST', url: '/api/v1/payments/pagar-conekta', headers: { authorization: `Bearer ${env.shop.adminToken}` }, payload: conektaBody(env.shop.productId) });
    assert.equal(res.statusCode, 401);
  });

  it('Mercado Pago pending is not a sale: 202 without credentials, delivered when MP approves (webhook)', async () => {
    const res = await buy('/api/v1/payments/pagar-mercado-pago', mpBody(env.shop.productId, `pend_pending_contingency~${uniq()}`));
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.data.success, false);
    assert.equal(res.data.pendiente, true);
    assert.equal(res.data.usuario_hotspot, null);
    assert.equal(res.data.estado_pago, 'pending');
    assert.equal(res.data.advertencia, 'Pago pendiente de confirmación');
    assert.equal(res.data.detail, '⏳ El pago está pendiente de confirmación.');
    assert.equal(res.data.estado_hotspot, 'pendiente');
    const ref = res.data.referencia;
    const row = await txByRef(env.t.ctx, ref);
    assert.equal(row.estado, 'iniciada');
    assert.equal(routerUsers(env.shop.sim, row.usuarioHotspot!).length, 0, 'no voucher for a pending payment');

    const look = await env.t.request({ method: 'GET', url: `/api/v1/payments/transacciones/${ref}`, headers: auth(env.shop.apiKey) });
    assert.equal(look.statusCode, 200);
    assert.equal(look.data.estado, 'iniciada');
    assert.equal(look.data.usuario_hotspot, null);

    env.f.mp.setPaymentStatus(res.data.id_transaccion, 'approved');
    const webhook = await env.t.request({
      method: 'POST',
      url: `/api/v1/webhook/mercado-pago?data.id=${res.data.id_transaccion}&type=payment`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ action: 'payment.updated', type: 'payment', id: 777001, data: { id: res.data.id_transaccion } }),
    });
    assert.equal(webhook.statusCode, 200);
    assert.equal(webhook.data.status, 'received');
    await env.t.ctx.payments.outbox.drain();
    const done = await txByRef(env.t.ctx, ref);
    assert.equal(done.estado, 'entregada');
    assert.equal(done.webhookProcessed, true);
    assert.equal(routerUsers(env.shop.sim, done.usuarioHotspot!).length, 1);
    const after = await env.t.request({ method: 'GET', url: `/api/v1/payments/transacciones/${ref}`, headers: auth(env.shop.apiKey) });
    assert.equal(after.data.estado, 'entregada');
    assert.equal(after.data.estado_hotspot, 'active');
    assert.equal(after.data.usuario_hotspot.usuario, done.usuarioHotspot);
    assert.match(after.data.usuario_hotspot.contrasena, /^\d{4}$/);
  });

  it('in_process approved later by a status poll (estado-pago) delivers too', async () => {
    const res = await buy('/api/v1/payments/pagar-mercado-pago', mpBody(env.shop.productId, `inproc_pending_review_manual~${uniq()}`));
    assert.equal(res.statusCode, 202);
    assert.equal(res.data.detail, '⏳ El pago está siendo revisado manualmente.');
    env.f.mp.setPaymentStatus(res.data.id_transaccion, 'approved');
    const poll = await env.t.request({ method: 'GET', url: `/api/v1/payments/estado-pago/${res.data.id_transaccion}`, headers: auth(env.shop.apiKey) });
    assert.equal(poll.statusCode, 200);
    assert.equal(poll.data.success, true);
    assert.equal(poll.data.status, 'approved');
    assert.equal(poll.data.amount, 19.99);
    assert.equal(poll.data.currency_id, 'MXN');
    assert.equal(poll.data.payment_id, Number(res.data.id_transaccion));
    await env.t.ctx.payments.outbox.drain();
    assert.equal((await txByRef(env.t.ctx, res.data.referencia)).estado, 'entregada');
    const unknown = await env.t.request({ method: 'GET', url: '/api/v1/payments/estado-pago/999', headers: auth(env.shop.apiKey) });
    assert.equal(unknown.statusCode, 404);
    const bad = await env.t.request({ method: 'GET', url: '/api/v1/payments/estado-pago/abc', headers: auth(env.shop.apiKey) });
    assert.equal(bad.statusCode, 422);
  });

  it('transaction lookup is scoped to the router of the key', async () => {
    const res = await buy('/api/v1/payments/pagar-conekta', conektaBody(env.shop.productId));
    const other = await createShop(env.t);
    const foreign = await env.t.request({ method: 'GET', url: `/api/v1/payments/transacciones/${res.data.referencia}`, headers: auth(other.apiKey) });
    assert.equal(foreign.statusCode, 404);
    const own = await env.t.request({ method: 'GET', url: `/api/v1/payments/transacciones/${res.data.referencia}`, headers: auth(env.shop.apiKey) });
    assert.equal(own.statusCode, 200);
    assert.equal(own.data.monto, 19.99);
    assert.equal(own.data.pasarela, 'conekta');
    await other.sim.close();
  });

  it('a company without Mercado Pago gets the legacy 400', async () => {
    await env.t.ctx.db.query('UPDATE empresas SET mercado_pago_access_token = NULL WHERE id = $1', [env.shop.empresaId]);
    const res = await buy('/api/v1/payments/pagar-mercado-pago', mpBody(env.shop.productId));
    assert.equal(res.statusCode, 400);
    assert.equal(res.data.detail, 'La empresa no tiene configurado Mercado Pago');
    await env.t.ctx.db.query('UPDATE empresas SET mercado_pago_access_token = $2 WHERE id = $1', [env.shop.empresaId, env.t.ctx.secrets.mercadoPago.encrypt('TEST-1234567890-access')]);
  });

  it('auto-connect after payment logs the device in (v7 router)', async () => {
    env.shop.sim.state.addHost({ 'mac-address': 'AA:BB:CC:DD:EE:01', address: '10.5.50.20', 'to-address': '10.5.50.20' });
    const res = await buy('/api/v1/payments/pagar-conekta', conektaBody(env.shop.productId, undefined, { conexion_automatica: true, mac_cliente: 'aa:bb:cc:dd:ee:01', ip_cliente: '10.5.50.20' }));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.auto_conexion.mac, 'aa:bb:cc:dd:ee:01');
    assert.deepEqual(res.data.auto_conexion, {
      estado: 'conectado',
      mac: 'aa:bb:cc:dd:ee:01',
      ip: '10.5.50.20',
      mensaje: '¡Conexión establecida con éxito! Disfrute de Internet sin límites',
      verificado: true,
      session_id: null,
    });
  });
});
