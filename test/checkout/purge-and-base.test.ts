/**
 * Checkout housekeeping (issue 13): expired sessions are deleted by a recurring job, and every link of the page
 * respects a path-prefixed PUBLIC_BASE_URL (a proxy at https://host/hotspot that strips the prefix).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { auth, usePaymentsShop, waitFor } from '../payments/helpers.js';

const LOGIN = { link_login_only: 'http://10.5.50.1/login', mac: 'AA:BB:CC:DD:EE:31', ip: '10.5.50.31' };
const hash = (id: string) => createHash('sha256').update(id).digest('hex');

describe('checkout housekeeping', () => {
  const env = usePaymentsShop();
  const create = async () => {
    const res = await env.t.request({
      method: 'POST',
      url: '/api/v1/checkout/sesiones',
      headers: auth(env.shop.apiKey),
      payload: { producto_id: env.shop.productId, pasarela: 'conekta', nombre_cliente: 'Ana López', email_cliente: 'ana@example.com', ...LOGIN },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.data.url as string;
  };
  const idOf = (url: string) => new URL(url).pathname.split('/').pop()!;

  it('a recurring job deletes sessions expired for a day, keeps the others, and stays scheduled', async () => {
    const old = idOf(await create());
    const recent = idOf(await create());
    // Expired two days ago, and expired a minute ago (still shown as expired to its holder).
    await env.t.ctx.db.query(`UPDATE checkout_sesiones SET expira_en = (now() AT TIME ZONE 'utc') - interval '2 days' WHERE id_hash = $1`, [hash(old)]);
    await env.t.ctx.db.query(`UPDATE checkout_sesiones SET expira_en = (now() AT TIME ZONE 'utc') - interval '1 minute' WHERE id_hash = $1`, [hash(recent)]);
    const [job] = await env.t.ctx.db.query<{ id: number }>(`SELECT id FROM outbox WHERE dedupe_key = 'checkout:purgar' AND done_at IS NULL`);
    assert.ok(job, 'the purge job was scheduled when the service started');
    await env.t.ctx.payments.startWorkers();
    try {
      // Bring it forward instead of waiting an hour.
      await env.t.ctx.db.query(`UPDATE outbox SET run_at = now() WHERE id = $1`, [job.id]);
      await waitFor('old session purged', async () => ((await env.t.ctx.db.query(`SELECT 1 FROM checkout_sesiones WHERE id_hash = $1`, [hash(old)])).length === 0 ? true : null));
      assert.equal((await env.t.ctx.db.query(`SELECT 1 FROM checkout_sesiones WHERE id_hash = $1`, [hash(recent)])).length, 1, 'a session expired a minute ago stays');
      const [again] = await env.t.ctx.db.query<{ later: boolean }>(`SELECT run_at > now() + interval '30 minutes' AS later FROM outbox WHERE dedupe_key = 'checkout:purgar' AND done_at IS NULL`);
      assert.equal(again?.later, true, 'rescheduled for the next run');
      assert.equal((await env.t.request({ method: 'GET', url: `/pagar/${old}` })).statusCode, 404);
      assert.equal((await env.t.request({ method: 'GET', url: `/pagar/${recent}` })).statusCode, 410);
    } finally {
      await env.t.ctx.payments.stopWorkers();
    }
  });

  it('every link of the page carries the path of a path-prefixed PUBLIC_BASE_URL', async () => {
    const saved = env.t.ctx.config.publicBaseUrl;
    env.t.ctx.config.publicBaseUrl = 'https://pagos.example.com/hotspot';
    try {
      const url = await create();
      assert.match(url, /^https:\/\/pagos\.example\.com\/hotspot\/pagar\/[A-Za-z0-9_-]{43}$/);
      const id = idOf(url);
      const page = await env.t.request({ method: 'GET', url: `/pagar/${id}` });
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /href="\/hotspot\/pagar\/assets\/checkout\.css"/);
      assert.match(page.body, /src="\/hotspot\/pagar\/assets\/checkout\.js"/);
      assert.match(page.body, new RegExp(`href="/hotspot/pagar/${id}/aviso-de-privacidad"`));
      assert.match(page.body, /data-base="\/hotspot"/);
      assert.doesNotMatch(page.body, /(?:href|src|action)="\/(?!hotspot\/)/, 'no root-absolute link escapes the prefix');
      for (const path of [`/pagar/${id}/aviso-de-privacidad`, '/pagar/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']) {
        const doc = await env.t.request({ method: 'GET', url: path });
        assert.match(doc.body, /href="\/hotspot\/pagar\/assets\/checkout\.css"/, path);
      }
      // The script builds its API calls on data-base.
      const js = await env.t.request({ method: 'GET', url: '/pagar/assets/checkout.js' });
      assert.match(js.body, /\(d\.base \|\| ''\) \+ '\/api\/v1\/checkout\/sesiones\/'/);
    } finally {
      env.t.ctx.config.publicBaseUrl = saved;
    }
  });
});
