/**
 * Counter vouchers after the counter (issue 15): a batch voucher becomes `vendido` at its first use on the
 * router (learned by the validity sweeper over the RouterOS API), its validity counts from that first use
 * and it is swept (`expirado`: disabled, session and cookie gone); the batch's state follows. Cash sales
 * count in the dashboard apart from card sales, at the plan's price when the batch was made, on the
 * company's local day of each voucher's first use. The QR login address is the router's `dns_name`
 * setting (validated), else the hotspot profile's `dns-name` read from the router.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestApp } from '../helpers/app.js';
import { conektaBody, auth, createShop, startFakes, startPaymentsApp, waitFor, type Fakes, type Shop } from '../payments/helpers.js';

// One validity minute lasts 2 s here (VIGENCIA_MINUTE_SECONDS; 60 in production, same code path).
const MINUTE_S = 2;
// Generous gateway and router timeouts: this file has no outage to detect, and a busy machine is slow.
const FAST = {
  VIGENCIA_SWEEP_MS: '200',
  VIGENCIA_MAX_BACKOFF_MS: '400',
  VIGENCIA_MINUTE_SECONDS: String(MINUTE_S),
  GATEWAY_TIMEOUT_MS: '15000',
  ROUTEROS_CONNECT_TIMEOUT_MS: '5000',
  ROUTEROS_COMMAND_TIMEOUT_MS: '5000',
};

function missing(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
}

/** The local calendar day of `ms` in `zone`, as YYYY-MM-DD. */
function localDate(ms: number, zone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));
}

/** The UTC instant of 12:00 local time on `date` (YYYY-MM-DD) in `zone`. */
function localNoon(date: string, zone: string): number {
  const [y, m, d] = date.split('-').map(Number);
  const guess = Date.UTC(y, m - 1, d, 12);
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' }).formatToParts(new Date(guess)).map((p) => [p.type, p.value]));
  const shown = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute));
  return guess - (shown - guess);
}

describe('counter vouchers after the sale: vendido at first use, expiry, cash in the dashboard, QR address', () => {
  let f: Fakes;
  let t: TestApp;
  let shop: Shop;
  const shops: Shop[] = [];
  const admin = () => ({ authorization: `Bearer ${shop.adminToken}` });
  const getBatch = async (id: number) => (await t.request({ method: 'GET', url: `/api/v1/admin/lotes/${id}`, headers: admin() })).data;

  before(async () => {
    f = await startFakes();
    t = await startPaymentsApp(f, { env: FAST });
    shop = await createShop(t);
    shops.push(shop);
    await t.ctx.validity.start();
    await t.ctx.payments.startWorkers();
  });
  after(async () => {
    await t.close();
    for (const s of shops) await s.sim.close();
    await f.close();
  });

  let profileSeq = 10;
  async function plan(payload: Record<string, unknown>): Promise<number> {
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/admin/products',
      headers: admin(),
      payload: { router_id: shop.routerId, perfil_mikrotik_id: `*${profileSeq++}`, perfil_mikrotik_nombre: '1_HORA', nombre_venta: 'Plan', precio: 10, ...payload },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.data.id as number;
  }

  async function batch(productId: number, cantidad: number, prefijo: string): Promise<number> {
    const res = await t.request({ method: 'POST', url: '/api/v1/admin/lotes', headers: admin(), payload: { producto_id: productId, cantidad, prefijo } });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.data.id as number;
    await waitFor('batch on the router', async () => (await getBatch(id)).progreso === 1);
    return id;
  }

  const users = (prefix: string) => shop.sim.state.users.rows.filter((u) => u.name.startsWith(prefix));
  const fichas = (loteId: number) =>
    t.ctx.db.query<{ usuario: string; estado: string; primer_uso_en: string | null; expira_en: string | null; expirada_en: string | null }>(
      `SELECT usuario, estado, primer_uso_en::text, expira_en::text, expirada_en::text FROM fichas_lote WHERE lote_id = $1 ORDER BY id`,
      [loteId],
    );

  it('a batch voucher becomes vendido at its first login, expires a validity after it (disabled, session and cookie removed); the batch state follows', async () => {
    // A profile with add-mac-cookie, so the login leaves a cookie the sweep must remove.
    shop.sim.state.profiles.rows.find((p) => p.name === '1_HORA')!['add-mac-cookie'] = 'true';
    const productId = await plan({ nombre_venta: 'Día mostrador', vigencia_minutos: 3, vigencia_desde: 'primer_uso' });
    const id = await batch(productId, 2, 'VIG-');
    const [a, b] = users('VIG-');
    // Unused: sweeps go by, nothing is sold.
    const before = shop.sim.received('/ip/hotspot/user/print').length;
    await waitFor('sweeps of the unused batch', () => shop.sim.received('/ip/hotspot/user/print').length >= before + 2);
    assert.deepEqual((await getBatch(id)).fichas, { generado: 2, vendido: 0, expirado: 0, anulado: 0 });

    // A device logs in at the hotspot with the first voucher.
    shop.sim.state.addHost({ 'mac-address': '02:00:00:0A:00:01', address: '10.8.0.1' });
    shop.sim.state.hotspotLogin({ user: a.name, password: a.password, ip: '10.8.0.1' });
    assert.equal(shop.sim.state.cookies.rows.filter((c) => c.user === a.name).length, 1);
    const sold = await waitFor('vendido at first use', async () => {
      const v = await getBatch(id);
      return v.fichas.vendido === 1 ? v : null;
    });
    assert.deepEqual(sold.fichas, { generado: 1, vendido: 1, expirado: 0, anulado: 0 });
    assert.equal(sold.estado, 'generado', 'one voucher still waits at the counter');
    assert.equal(sold.vendido, 0.5);
    const row = (await fichas(id)).find((x) => x.usuario === a.name)!;
    assert.equal(row.estado, 'vendido');
    assert.ok(row.primer_uso_en && row.expira_en);
    assert.equal(Date.parse(row.expira_en + 'Z') - Date.parse(row.primer_uso_en + 'Z'), 3 * MINUTE_S * 1000, 'expira_en = first use + the validity');

    // The other voucher is used too: the whole batch is sold.
    shop.sim.state.addHost({ 'mac-address': '02:00:00:0A:00:02', address: '10.8.0.2' });
    shop.sim.state.hotspotLogin({ user: b.name, password: b.password, ip: '10.8.0.2' });
    await waitFor('batch vendido', async () => (await getBatch(id)).estado === 'vendido');

    // Expiry: disabled, its sessions and cookies gone (within 30 s after expiry), never before it.
    const expiresAt = Date.parse(row.expira_en! + 'Z');
    await waitFor(
      'expired batch voucher swept',
      () => {
        const st = shop.sim.state;
        return st.findUser(a.name)?.disabled === 'true' && !st.active.rows.some((s) => s.user === a.name) && !st.cookies.rows.some((c) => c.user === a.name);
      },
      Math.max(1000, expiresAt + 30_000 - Date.now()),
    );
    const swept = await waitFor('expirado recorded', async () => (await fichas(id)).find((x) => x.usuario === a.name && x.estado === 'expirado'));
    assert.ok(Date.parse(swept.expirada_en! + 'Z') >= expiresAt, 'never before expiry');
    assert.equal(swept.expira_en, row.expira_en, 'expira_en set once');
    const done = await waitFor('batch expirado', async () => {
      const v = await getBatch(id);
      return v.estado === 'expirado' ? v : null;
    });
    assert.deepEqual(done.fichas, { generado: 0, vendido: 0, expirado: 2, anulado: 0 });
    // Each user disabled exactly once: swept vouchers leave the work list (several planner rounds later).
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(shop.sim.received('/ip/hotspot/user/disable').length, 2);
  });

  it('cash sales: apart from card sales, at the price when the batch was made, on the local day of first use', async () => {
    // A company of its own (nothing else sold), in UTC+14: its local day is not the UTC day at noon.
    shop = await createShop(t);
    shops.push(shop);
    const zone = 'Pacific/Kiritimati';
    const z = await t.request({ method: 'PUT', url: '/api/v1/admin/mi-empresa', headers: admin(), payload: { zona_horaria: zone } });
    assert.equal(z.statusCode, 200, z.body);
    const productId = await plan({ nombre_venta: 'Hora mostrador', precio: 15 });
    const id = await batch(productId, 3, 'CASH-');
    // The plan gets dearer after the batch was printed: the batch still sells at 15.
    const put = await t.request({ method: 'PUT', url: `/api/v1/admin/products/${productId}`, headers: admin(), payload: { precio: 99 } });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal(Number(put.data.precio), 99);
    // A card sale of the same plan today (at the new price), counted apart.
    const card = await t.request({ method: 'POST', url: '/api/v1/payments/pagar-conekta', headers: auth(shop.apiKey), payload: conektaBody(productId) });
    assert.equal(card.statusCode, 200, card.body);

    const [v1, v2, v3] = users('CASH-');
    // v1 and v2 are first used today (sessions now); v3 was first used on day D, three local days ago: the
    // router's counters say it has been connected since local noon of D (the session ended).
    const today = localDate(Date.now(), zone);
    const dayD = localDate(Date.now() - 3 * 86_400_000, zone);
    const noonD = localNoon(dayD, zone);
    assert.notEqual(new Date(noonD).toISOString().slice(0, 10), dayD, 'day D in UTC is another day');
    shop.sim.state.addHost({ 'mac-address': '02:00:00:0B:00:01', address: '10.9.0.1' });
    shop.sim.state.addHost({ 'mac-address': '02:00:00:0B:00:02', address: '10.9.0.2' });
    shop.sim.state.hotspotLogin({ user: v1.name, password: v1.password, ip: '10.9.0.1' });
    shop.sim.state.hotspotLogin({ user: v2.name, password: v2.password, ip: '10.9.0.2' });
    shop.sim.state.findUser(v3.name)!.uptime = `${Math.floor((Date.now() - noonD) / 1000)}s`;
    await waitFor('three cash sales seen', async () => (await getBatch(id)).fichas.vendido === 3);

    const res = await t.request({ method: 'GET', url: '/api/v1/admin/mi-empresa/ventas?dias=7', headers: admin() });
    assert.equal(res.statusCode, 200, res.body);
    const s = res.data;
    assert.equal(s.zona_horaria, zone);
    assert.equal(s.hoy.fecha, today);
    assert.deepEqual(s.hoy, { fecha: today, monto: 99, ventas: 1 }, 'card sales: the card sale only');
    assert.deepEqual(s.efectivo.hoy, { monto: 30, ventas: 2 }, 'cash today: two vouchers at the batch price');
    const byDay = new Map<string, { monto: number; ventas: number; efectivo_monto: number; efectivo_ventas: number }>(s.por_dia.map((d: { fecha: string }) => [d.fecha, d]));
    assert.equal(byDay.get(dayD)!.efectivo_monto, 15, 'the voucher first used on day D counts on day D');
    assert.equal(byDay.get(dayD)!.efectivo_ventas, 1);
    assert.equal(byDay.get(dayD)!.monto, 0);
    assert.equal(byDay.get(today)!.efectivo_monto, 30);
    assert.equal(byDay.get(today)!.monto, 99);
    assert.equal(s.por_dia.reduce((n: number, d: { efectivo_ventas: number }) => n + d.efectivo_ventas, 0), 3, 'each voucher counted once');
    assert.equal(s.por_dia.reduce((n: number, d: { ventas: number }) => n + d.ventas, 0), 1, 'the cash sales are not card sales');
    // The same sales seen from Mexico City: day D's noon in Kiritimati is the previous local day there.
    const mx = await t.request({ method: 'PUT', url: '/api/v1/admin/mi-empresa', headers: admin(), payload: { zona_horaria: 'America/Mexico_City' } });
    assert.equal(mx.statusCode, 200, mx.body);
    const s2 = (await t.request({ method: 'GET', url: '/api/v1/admin/mi-empresa/ventas?dias=7', headers: admin() })).data;
    const dayInMx = localDate(noonD, 'America/Mexico_City');
    assert.notEqual(dayInMx, dayD);
    assert.equal(s2.por_dia.find((d: { fecha: string }) => d.fecha === dayInMx).efectivo_monto, 15);
    assert.equal(s2.por_dia.find((d: { fecha: string }) => d.fecha === dayD)?.efectivo_monto ?? 0, 0);
  });

  it("the QR login address: the router's dns_name setting (hostile input refused), else the hotspot profile's dns-name", async () => {
    const productId = await plan({ nombre_venta: 'QR' });
    const id = await batch(productId, 1, 'QR-');
    const dir = mkdtempSync(join(tmpdir(), 'lote-qr-'));
    try {
      const qrHost = async () => {
        const pdf = await t.request({ method: 'GET', url: `/api/v1/admin/lotes/${id}/pdf?formato=80mm`, headers: admin() });
        assert.equal(pdf.statusCode, 200, pdf.body);
        if (missing('pdftoppm') || missing('zbarimg')) return null;
        writeFileSync(join(dir, 'qr.pdf'), pdf.rawPayload);
        execFileSync('pdftoppm', ['-r', '200', '-gray', '-png', join(dir, 'qr.pdf'), join(dir, 'qr')]);
        const out = execFileSync('zbarimg', ['-q', '--raw', join(dir, 'qr-1.png')]).toString('utf8').trim();
        return new URL(out).host;
      };
      // Not set: read from the router (/ip/hotspot/profile/print → dns-name).
      shop.sim.state.serverProfiles.rows[0]['dns-name'] = 'login.hotspot.example';
      const reads = shop.sim.received('/ip/hotspot/profile/print').length;
      const fromRouter = await qrHost();
      assert.ok(shop.sim.received('/ip/hotspot/profile/print').length > reads, 'the profile was read over the API');
      if (fromRouter !== null) assert.equal(fromRouter, 'login.hotspot.example');

      // The ticket says which batch and when it was made, in the company's zone (storage stays UTC).
      const [made] = await t.ctx.db.query<{ creado_en: string }>(`SELECT creado_en::text AS creado_en FROM lotes WHERE id = $1`, [id]);
      const stamp = (zone: string) =>
        new Intl.DateTimeFormat('es-MX', { timeZone: zone, day: '2-digit', month: '2-digit', year: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(made.creado_en.replace(' ', 'T') + 'Z'));
      for (const zone of ['America/Mexico_City', 'Asia/Kolkata']) {
        const z = await t.request({ method: 'PUT', url: '/api/v1/admin/mi-empresa', headers: admin(), payload: { zona_horaria: zone } });
        assert.equal(z.statusCode, 200, z.body);
        for (const formato of ['80mm', 'a4']) {
          const pdf = await t.request({ method: 'GET', url: `/api/v1/admin/lotes/${id}/pdf?formato=${formato}`, headers: admin() });
          if (missing('pdftotext')) break;
          writeFileSync(join(dir, 'pie.pdf'), pdf.rawPayload);
          const text = execFileSync('pdftotext', [join(dir, 'pie.pdf'), '-']).toString('utf8').replace(/\s+/g, ' ');
          assert.ok(text.includes(`Lote ${id} · ${stamp(zone)}`), `${formato} in ${zone}: ${text}`);
        }
      }
      assert.notEqual(stamp('America/Mexico_City'), stamp('Asia/Kolkata'));

      // Hostile values are refused with a JSON 422 and change nothing.
      for (const bad of ['http://evil.example', 'evil.example/login', 'a b', 'evil.example:80', 'x@evil.example', '<script>', '-bad.example', '999.1.1.1', 'a'.repeat(254)]) {
        const r = await t.request({ method: 'PUT', url: `/api/v1/admin/mi-empresa/routers/${shop.routerId}`, headers: admin(), payload: { dns_name: bad } });
        assert.equal(r.statusCode, 422, bad);
        assert.equal(r.data.code, 'validation_error');
        assert.ok(r.data.detail);
      }
      // The router setting wins over the profile.
      const ok = await t.request({ method: 'PUT', url: `/api/v1/admin/mi-empresa/routers/${shop.routerId}`, headers: admin(), payload: { dns_name: 'WiFi.Cafe.example' } });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.data.router.dns_name, 'wifi.cafe.example');
      const reads2 = shop.sim.received('/ip/hotspot/profile/print').length;
      const fromSetting = await qrHost();
      if (fromSetting !== null) assert.equal(fromSetting, 'wifi.cafe.example');
      assert.equal(shop.sim.received('/ip/hotspot/profile/print').length, reads2, 'no router read when the setting is there');
      // Cleared: back to the router's profile.
      const cleared = await t.request({ method: 'PUT', url: `/api/v1/admin/mi-empresa/routers/${shop.routerId}`, headers: admin(), payload: { dns_name: '' } });
      assert.equal(cleared.data.router.dns_name, null);
      const again = await qrHost();
      if (again !== null) assert.equal(again, 'login.hotspot.example');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
