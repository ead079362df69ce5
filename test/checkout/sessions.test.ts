/** Checkout sessions (issue 13) through HTTP: hand-off, hostile login context, single use, the exactly-once purchase path. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { auth, routerUsers, txByRef, usePaymentsShop, uniq } from '../payments/helpers.js';

const LOGIN = {
  link_login_only: 'http://10.5.50.1/login',
  chap_id: '\\215',
  chap_challenge: '\\063\\341\\337\\133\\243\\032\\157\\152\\326\\071\\244\\306\\152\\364\\362\\236',
  mac: 'AA:BB:CC:DD:EE:01',
  ip: '10.5.50.23',
  dst: 'http://example.com/',
};

describe('checkout sessions', () => {
  const env = usePaymentsShop();
  const create = (payload: Record<string, unknown>, key = env.shop.apiKey) =>
    env.t.request({ method: 'POST', url: '/api/v1/checkout/sesiones', headers: auth(key), payload });
  const base = (extra: Record<string, unknown> = {}) => ({ producto_id: env.shop.productId, nombre_cliente: 'Ana López', email_cliente: 'Ana@Example.com', telefono_cliente: '5512345678', ...LOGIN, ...extra });
  const idOf = (url: string) => new URL(url).pathname.split('/').pop()!;
  const pay = (id: string, payload: Record<string, unknown>, key: string | null = `k-${uniq()}`) =>
    env.t.request({ method: 'POST', url: `/api/v1/checkout/sesiones/${id}/pago`, headers: key ? { 'idempotency-key': key } : {}, payload });

  it('answers {url, expira_en} on PUBLIC_BASE_URL; the id is unguessable and only its hash is stored', async () => {
    const res = await create(base({ pasarela: 'conekta' }));
    assert.equal(res.statusCode, 201, res.body);
    assert.match(res.data.url, /^https:\/\/pagos\.example\.com\/pagar\/[A-Za-z0-9_-]{43}$/);
    assert.match(res.data.expira_en, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/);
    const id = idOf(res.data.url);
    const rows = await env.t.ctx.db.query<{ id_hash: string; router_id: string; producto_id: number; mac: string }>('SELECT id_hash, router_id, producto_id, mac FROM checkout_sesiones');
    const mine = rows.find((r) => r.id_hash === createHash('sha256').update(id).digest('hex'));
    assert.ok(mine, 'stored by its SHA-256');
    assert.equal(rows.some((r) => JSON.stringify(r).includes(id)), false, 'the id itself is nowhere in the table');
    assert.equal(mine!.router_id, env.shop.routerId);
    assert.equal(mine!.mac, 'AA:BB:CC:DD:EE:01');
  });

  it('needs the router key, and a product of that router', async () => {
    assert.equal((await env.t.request({ method: 'POST', url: '/api/v1/checkout/sesiones', payload: base() })).statusCode, 401);
    const res = await create(base({ producto_id: 999999 }));
    assert.equal(res.statusCode, 404);
    assert.equal(res.data.code, 'product_not_found');
  });

  it('refuses a hostile login context field by field (nothing stored)', async () => {
    const before = (await env.t.ctx.db.query('SELECT count(*)::int AS n FROM checkout_sesiones'))[0]!.n;
    for (const [field, value] of [
      ['link_login_only', 'javascript:alert(1)'],
      ['link_login_only', 'http://10.5.50.1/login"><script>'],
      ['chap_id', '<script>'],
      ['chap_challenge', 'abc'],
      ['mac', 'AA:BB:CC:DD:EE'],
      ['ip', '10.5.50.300'],
      ['dst', 'data:text/html,hi'],
    ] as const) {
      const res = await create(base({ [field]: value }));
      assert.equal(res.statusCode, 422, `${field}=${value}: ${res.body}`);
      assert.equal(res.data.detail[0].loc[1], field);
    }
    const after = (await env.t.ctx.db.query('SELECT count(*)::int AS n FROM checkout_sesiones'))[0]!.n;
    assert.equal(after, before);
  });

  it('the page: our HTML with a strict CSP, the plan, the notice link, the gateway script, no card input of ours', async () => {
    const id = idOf((await create(base({ pasarela: 'conekta' }))).data.url);
    const page = await env.t.request({ method: 'GET', url: `/pagar/${id}` });
    assert.equal(page.statusCode, 200);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /script-src 'self' https:\/\/pay\.conekta\.com/);
    assert.doesNotMatch(csp, /script-src[^;]*'unsafe-inline'/);
    assert.match(page.body, /1 Hora &lt;Rápida&gt;/);
    assert.match(page.body, /\$19\.99 MXN/);
    assert.match(page.body, new RegExp(`/pagar/${id}/aviso-de-privacidad`));
    assert.match(page.body, /<script src="https:\/\/pay\.conekta\.com\/v1\.0\/js\/conekta-checkout\.min\.js"><\/script>/);
    assert.doesNotMatch(page.body, /<input/i);
    assert.doesNotMatch(page.body, /<script>(?!<)/, 'no inline script');
    const notice = await env.t.request({ method: 'GET', url: `/pagar/${id}/aviso-de-privacidad` });
    assert.equal(notice.statusCode, 200);
    assert.match(notice.body, /Aviso de privacidad/);
    assert.match(String(notice.headers['content-security-policy']), /frame-ancestors 'none'/);
    assert.equal((await env.t.request({ method: 'GET', url: '/pagar/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).statusCode, 404);
    // The company's own notice is a setting of mi-empresa; HTML in it is shown as text.
    const put = await env.t.request({ method: 'PUT', url: '/api/v1/admin/mi-empresa', headers: { authorization: `Bearer ${env.shop.adminToken}` }, payload: { aviso_privacidad: 'Nuestro aviso <b>propio</b>.\n\nSegundo párrafo.' } });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal(put.data.empresa.aviso_privacidad, 'Nuestro aviso <b>propio</b>.\n\nSegundo párrafo.');
    const own = await env.t.request({ method: 'GET', url: `/pagar/${id}/aviso-de-privacidad` });
    assert.match(own.body, /<p>Nuestro aviso &lt;b&gt;propio&lt;\/b&gt;\.<\/p>/);
    assert.match(own.body, /<p>Segundo párrafo\.<\/p>/);
    await env.t.request({ method: 'PUT', url: '/api/v1/admin/mi-empresa', headers: { authorization: `Bearer ${env.shop.adminToken}` }, payload: { aviso_privacidad: '' } });
    assert.match((await env.t.request({ method: 'GET', url: `/pagar/${id}/aviso-de-privacidad` })).body, /derechos de acceso, rectificación/);
  });

  it('buys with the session only (no router key), logs the device in, and the session starts one purchase', async () => {
    const id = idOf((await create(base({ pasarela: 'conekta' }))).data.url);
    assert.equal((await pay(id, { token: `tok_test_visa_4242_${uniq()}` }, null)).statusCode, 400, 'Idempotency-Key is required');
    const key = `k-${uniq()}`;
    const token = `tok_test_visa_4242_${uniq()}`;
    const res = await pay(id, { token }, key);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.estado, 'entregada');
    const row = await txByRef(env.t.ctx, res.data.referencia);
    assert.equal(row.routerId, env.shop.routerId);
    const order = env.f.conekta.state.orders.get(res.data.id_transaccion) as any;
    assert.equal(order.metadata.mac_cliente, 'AA:BB:CC:DD:EE:01', 'the router context reached the charge');
    assert.equal(routerUsers(env.shop.sim, res.data.usuario_hotspot.usuario).length, 1);
    // Same key, same body: the same answer, no second charge.
    const replay = await pay(id, { token }, key);
    assert.equal(replay.statusCode, 200);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.equal(replay.data.referencia, res.data.referencia);
    // Another key: the session is used.
    const again = await pay(id, { token: `tok_test_visa_4242_${uniq()}` });
    assert.equal(again.statusCode, 409);
    assert.equal(again.data.code, 'checkout_session_used');
    const orders = [...env.f.conekta.state.orders.values()].filter((o: any) => o.metadata?.referencia === res.data.referencia || o.id === res.data.id_transaccion);
    assert.equal(orders.length, 1);
    // The page reads the voucher by the session.
    const estado = await env.t.request({ method: 'GET', url: `/api/v1/checkout/sesiones/${id}/estado` });
    assert.equal(estado.data.estado, 'entregada');
    assert.equal(estado.data.usuario_hotspot.usuario, res.data.usuario_hotspot.usuario);
    // A day later the link no longer shows the voucher.
    await env.t.ctx.db.query(`UPDATE checkout_sesiones SET creada_en = creada_en - interval '25 hours' WHERE id_hash = $1`, [createHash('sha256').update(id).digest('hex')]);
    const later = await env.t.request({ method: 'GET', url: `/api/v1/checkout/sesiones/${id}/estado` });
    assert.equal(later.data.estado, 'entregada');
    assert.equal(later.data.usuario_hotspot, null);
  });

  it('a declined card gives the session nothing and says why; an expired session is refused before any charge', async () => {
    const id = idOf((await create(base({ pasarela: 'conekta' }))).data.url);
    const res = await pay(id, { token: `tok_test_decline_card_declined_${uniq()}` });
    assert.equal(res.statusCode, 402, res.body);
    assert.equal((await txByRef(env.t.ctx, res.data.referencia)).estado, 'rechazada');
    const estado = await env.t.request({ method: 'GET', url: `/api/v1/checkout/sesiones/${id}/estado` });
    assert.equal(estado.data.estado, 'rechazada');
    assert.equal(estado.data.usuario_hotspot, null);
    // Declined by the gateway: nothing kept, so the person may try another card on the same session…
    const retry = await pay(id, { token: `tok_test_visa_4242_${uniq()}` });
    assert.equal(retry.statusCode, 200, retry.body);
    assert.notEqual(retry.data.referencia, res.data.referencia);
    // …and once one purchase kept the money, no other.
    const third = await pay(id, { token: `tok_test_visa_4242_${uniq()}` });
    assert.equal(third.statusCode, 409);
    assert.equal(third.data.code, 'checkout_session_used');
    const id2 = idOf((await create(base({ pasarela: 'conekta' }))).data.url);
    await env.t.ctx.db.query(`UPDATE checkout_sesiones SET expira_en = (now() AT TIME ZONE 'utc') - interval '1 minute' WHERE id_hash = $1`, [createHash('sha256').update(id2).digest('hex')]);
    const orders = env.f.conekta.state.orders.size;
    const late = await pay(id2, { token: `tok_test_visa_4242_${uniq()}` });
    assert.equal(late.statusCode, 410);
    assert.equal(late.data.code, 'checkout_session_expired');
    assert.equal(env.f.conekta.state.orders.size, orders);
    assert.equal((await env.t.request({ method: 'GET', url: `/pagar/${id2}` })).statusCode, 410);
  });
});
