/**
 * Counter batches (issue 15 acceptance): a batch of 500 becomes 500 users on the simulated router through
 * the outbox in chunks (progress on GET), the A4 PDF carries the 500 credentials (`pdftotext`) and their
 * QR codes decode (`zbarimg`) to login URLs that log a device in at the simulated hotspot's web login; the
 * 80 mm roll carries the same 500 credentials and QR codes, one ticket a page.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestApp } from '../helpers/app.js';
import { createShop, startFakes, startPaymentsApp, waitFor, type Fakes, type Shop } from '../payments/helpers.js';
import { startHotspotWeb, type HotspotWeb } from '../../sandbox/hotspot-web.js';
import { BATCH_ALPHABET } from '../../src/modules/vouchers/batches.js';

function missing(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
}
const tools = ['pdftotext', 'pdftoppm', 'zbarimg'].filter(missing);
if (tools.length) console.log(`# OMITIDO en parte: faltan ${tools.join(', ')} (poppler-utils, zbar-tools)`);

interface Pgm {
  w: number;
  h: number;
  data: Buffer;
}
function readPgm(b: Buffer): Pgm {
  const m = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(b.toString('latin1', 0, 64))!;
  return { w: Number(m[1]), h: Number(m[2]), data: b.subarray(m[0].length) };
}
function cropPgm(img: Pgm, x0: number, y0: number, w: number, h: number): Buffer {
  w = Math.min(w, img.w - x0);
  h = Math.min(h, img.h - y0);
  const out = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) img.data.copy(out, y * w, (y0 + y) * img.w + x0, (y0 + y) * img.w + x0 + w);
  return Buffer.concat([Buffer.from(`P5\n${w} ${h}\n255\n`, 'latin1'), out]);
}

const NAME = new RegExp(`CAFE-[${BATCH_ALPHABET}]{8}`, 'g');

describe('voucher batches for the counter', () => {
  let f: Fakes;
  let t: TestApp;
  let shop: Shop;
  let web: HotspotWeb;
  let dir: string;
  const admin = () => ({ authorization: `Bearer ${shop.adminToken}` });
  before(async () => {
    f = await startFakes();
    t = await startPaymentsApp(f);
    shop = await createShop(t);
    // The hotspot's login address devices see (its server profile's dns-name).
    shop.sim.state.serverProfiles.rows[0]['dns-name'] = 'wifi.cafe.example';
    web = await startHotspotWeb({ files: { 'login.html': '<html><body>$(error)</body></html>' }, state: shop.sim.state });
    dir = mkdtempSync(join(tmpdir(), 'lotes-'));
  });
  after(async () => {
    await t.close();
    await web.close();
    await shop.sim.close();
    await f.close();
    if (!process.env.KEEP_LOTES) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses more than 5000, a bad prefix and a foreign product with JSON errors', async () => {
    for (const payload of [{ producto_id: shop.productId, cantidad: 5001 }, { producto_id: shop.productId, cantidad: 0 }, { producto_id: shop.productId, cantidad: 2, prefijo: 'A B' }]) {
      const res = await t.request({ method: 'POST', url: '/api/v1/admin/lotes', headers: admin(), payload });
      assert.equal(res.statusCode, 422, JSON.stringify(payload));
      assert.ok(res.data.code);
    }
    const other = await createShop(t);
    const res = await t.request({ method: 'POST', url: '/api/v1/admin/lotes', headers: admin(), payload: { producto_id: other.productId, cantidad: 2 } });
    assert.equal(res.statusCode, 404);
    await other.sim.close();
  });

  it('500 vouchers reach the router in chunks; the PDF has the 500 credentials and QR codes that log in', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v1/admin/lotes', headers: admin(), payload: { producto_id: shop.productId, cantidad: 500, prefijo: 'CAFE-' } });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.data.id as number;
    assert.equal(res.data.cantidad, 500);
    assert.equal(res.data.en_router, 0);
    assert.equal(res.data.precio, 19.99);
    await t.ctx.payments.startWorkers();
    const seen = new Set<number>();
    await waitFor('batch on the router', async () => {
      const g = await t.request({ method: 'GET', url: `/api/v1/admin/lotes/${id}`, headers: admin() });
      seen.add(g.data.en_router);
      return g.data.progreso === 1;
    }, 60_000);
    const users = shop.sim.state.users.rows.filter((u) => u.name.startsWith('CAFE-'));
    assert.equal(users.length, 500);
    assert.ok(users.every((u) => /^\d{6}$/.test(u.password) && u.profile === '1_HORA' && u.comment === `pagos-hotspot lote=${id}`));
    assert.ok(users.every((u) => /^CAFE-[A-HJKMNP-Z2-9]{8}$/.test(u.name)), 'no 0/O/1/I/L in names');
    const passwords = new Map(users.map((u) => [u.name, u.password]));

    const pdf = await t.request({ method: 'GET', url: `/api/v1/admin/lotes/${id}/pdf?formato=a4`, headers: admin() });
    assert.equal(pdf.statusCode, 200);
    assert.equal(pdf.headers['content-type'], 'application/pdf');
    const file = join(dir, 'lote.pdf');
    writeFileSync(file, pdf.rawPayload);
    if (missing('pdftotext')) return;
    const text = execFileSync('pdftotext', ['-layout', file, '-']).toString('utf8');
    const names = new Set(text.match(NAME) ?? []);
    assert.equal(names.size, 500, 'pdftotext finds 500 names');
    for (const n of names) assert.ok(passwords.has(n), n);
    for (const p of passwords.values()) assert.ok(text.includes(p), 'every password is printed');

    if (missing('pdftoppm') || missing('zbarimg')) return;
    // A phone sees one ticket at a time: each page is rasterised (200 dpi, grey) and cut into its 3 × 7
    // tickets, and zbarimg reads every ticket image.
    execFileSync('pdftoppm', ['-r', '200', '-gray', '-aaVector', 'no', file, join(dir, 'page')]);
    const pages = readdirSync(dir).filter((n) => n.startsWith('page') && n.endsWith('.pgm')).sort();
    assert.equal(pages.length, Math.ceil(500 / 21));
    const tickets: string[] = [];
    const scale = 200 / 72;
    for (const p of pages) {
      const img = readPgm(readFileSync(join(dir, p)));
      for (let k = 0; k < 21; k++) {
        const x0 = Math.round((24 + (k % 3) * ((595.28 - 48) / 3)) * scale);
        const y0 = Math.round((24 + Math.floor(k / 3) * ((841.89 - 48) / 7)) * scale);
        const w = Math.floor(((595.28 - 48) / 3) * scale);
        const h = Math.floor(((841.89 - 48) / 7) * scale);
        const out = join(dir, `${p}-${k}.pgm`);
        writeFileSync(out, cropPgm(img, x0, y0, w, h));
        tickets.push(out);
      }
    }
    // zbarimg exits 4 when some image has no code: its output is what counts.
    const scan = spawnSync('zbarimg', ['-q', '--raw', '-Sdisable', '-Sqrcode.enable', ...tickets], { maxBuffer: 16 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
    const decoded = scan.stdout.toString('utf8').split('\n').filter(Boolean);
    const got = new Set(decoded.map((u) => new URL(u).searchParams.get('username')));
    assert.equal(decoded.length, 500, `zbarimg decodes 500 QR codes; missing: ${[...passwords.keys()].filter((n) => !got.has(n)).join(', ')}`);
    let n = 0;
    for (const raw of decoded) {
      const url = new URL(raw);
      assert.equal(url.origin + url.pathname, 'http://wifi.cafe.example/login');
      const username = url.searchParams.get('username')!;
      assert.equal(url.searchParams.get('password'), passwords.get(username));
      // The device opens it on the hotspot (its DNS name resolves to the router's web login).
      n++;
      const q = new URLSearchParams(url.search);
      q.set('mac', `02:00:00:01:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`);
      q.set('ip', `10.6.${Math.floor(n / 200)}.${(n % 200) + 1}`);
      const r = await fetch(`${web.url}/login?${q.toString()}`);
      assert.equal(r.status, 200);
    }
    assert.equal(web.logins.filter((l) => l.ok).length, 500, 'every QR logs a device in');
    assert.equal(new Set(shop.sim.state.active.rows.filter((s) => s.user.startsWith('CAFE-')).map((s) => s.user)).size, 500);

    const roll = await t.request({ method: 'GET', url: `/api/v1/admin/lotes/${id}/pdf?formato=58mm`, headers: admin() });
    assert.equal(roll.statusCode, 200);
    writeFileSync(join(dir, 'rollo.pdf'), roll.rawPayload);
    assert.equal(new Set(execFileSync('pdftotext', [join(dir, 'rollo.pdf'), '-']).toString('utf8').match(NAME) ?? []).size, 500);
    // The 80 mm roll: one ticket a page; every credential in the text, every page's QR decodes to its login URL.
    const roll80 = await t.request({ method: 'GET', url: `/api/v1/admin/lotes/${id}/pdf?formato=80mm`, headers: admin() });
    assert.equal(roll80.statusCode, 200);
    const file80 = join(dir, 'rollo80.pdf');
    writeFileSync(file80, roll80.rawPayload);
    const text80 = execFileSync('pdftotext', ['-layout', file80, '-']).toString('utf8');
    const names80 = new Set(text80.match(NAME) ?? []);
    assert.equal(names80.size, 500, 'pdftotext finds the 500 names on the 80 mm roll');
    for (const [name, pass] of passwords) assert.ok(names80.has(name) && text80.includes(pass), name);
    execFileSync('pdftoppm', ['-r', '150', '-gray', '-aaVector', 'no', file80, join(dir, 'r80')]);
    const rollPages = readdirSync(dir).filter((n) => n.startsWith('r80') && n.endsWith('.pgm')).map((n) => join(dir, n));
    assert.equal(rollPages.length, 500, 'one ticket a page');
    const scan80 = spawnSync('zbarimg', ['-q', '--raw', '-Sdisable', '-Sqrcode.enable', ...rollPages], { maxBuffer: 16 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
    const decoded80 = scan80.stdout.toString('utf8').split('\n').filter(Boolean);
    assert.equal(decoded80.length, 500, 'zbarimg decodes the 500 QR codes of the roll');
    const seen80 = new Set<string>();
    for (const raw of decoded80) {
      const url = new URL(raw);
      assert.equal(url.origin + url.pathname, 'http://wifi.cafe.example/login');
      const username = url.searchParams.get('username')!;
      assert.equal(url.searchParams.get('password'), passwords.get(username), username);
      seen80.add(username);
    }
    assert.equal(seen80.size, 500);
    const bad = await t.request({ method: 'GET', url: `/api/v1/admin/lotes/${id}/pdf?formato=carta`, headers: admin() });
    assert.equal(bad.statusCode, 422);
  });

  it('voiding a batch removes its unused vouchers from the router; a used one stays, counted as sold', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v1/admin/lotes', headers: admin(), payload: { producto_id: shop.productId, cantidad: 5, prefijo: 'ANU-' } });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.data.id as number;
    await waitFor('batch on the router', async () => (await t.request({ method: 'GET', url: `/api/v1/admin/lotes/${id}`, headers: admin() })).data.progreso === 1);
    const mine = () => shop.sim.state.users.rows.filter((u) => u.name.startsWith('ANU-'));
    assert.equal(mine().length, 5);
    // One voucher was sold and used at the counter: a device logged in with it.
    const used = mine()[2];
    shop.sim.state.addHost({ 'mac-address': '02:00:00:09:00:01', address: '10.7.0.1' });
    shop.sim.state.hotspotLogin({ user: used.name, password: used.password, ip: '10.7.0.1' });
    const voided = await t.request({ method: 'POST', url: `/api/v1/admin/lotes/${id}/anular`, headers: admin() });
    assert.equal(voided.statusCode, 200, voided.body);
    assert.equal(voided.data.estado, 'anulado');
    await waitFor('unused vouchers removed', () => mine().length === 1);
    assert.equal(mine()[0].name, used.name);
    const g = await waitFor('states counted', async () => {
      const v = await t.request({ method: 'GET', url: `/api/v1/admin/lotes/${id}`, headers: admin() });
      return v.data.fichas.vendido === 1 ? v : null;
    });
    assert.deepEqual(g.data.fichas, { generado: 0, vendido: 1, expirado: 0, anulado: 4 });
    const again = await t.request({ method: 'POST', url: `/api/v1/admin/lotes/${id}/anular`, headers: admin() });
    assert.equal(again.statusCode, 200);
    const other = await createShop(t);
    const foreign = await t.request({ method: 'POST', url: `/api/v1/admin/lotes/${id}/anular`, headers: { authorization: `Bearer ${other.adminToken}` } });
    assert.equal(foreign.statusCode, 404);
    // The list: the company's batches, newest first; another company sees none of them.
    const listed = await t.request({ method: 'GET', url: '/api/v1/admin/lotes?limit=1', headers: admin() });
    assert.equal(listed.statusCode, 200, listed.body);
    assert.equal(listed.data.lotes.length, 1);
    assert.equal(listed.data.lotes[0].id, id);
    assert.deepEqual(listed.data.lotes[0].fichas, g.data.fichas);
    assert.equal(listed.data.total, 2);
    assert.equal(listed.headers['x-total-count'], '2');
    const theirs = await t.request({ method: 'GET', url: '/api/v1/admin/lotes', headers: { authorization: `Bearer ${other.adminToken}` } });
    assert.deepEqual(theirs.data, { total: 0, lotes: [] });
    assert.equal((await t.request({ method: 'GET', url: '/api/v1/admin/lotes?limit=0', headers: admin() })).statusCode, 422);
    await other.sim.close();
  });
});
