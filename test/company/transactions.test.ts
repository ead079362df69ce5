import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, startTestApp, type TestApp } from '../helpers/app.js';
import { createRouter, createTenant } from '../helpers/fixtures.js';
import { productos, transacciones } from '../../src/infra/db/schema.js';
import { csvCell } from '../../src/modules/company/transactions.js';

/** Minimal RFC 4180 parser (quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

describe('company transactions: list with filters and paging, CSV export', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<typeof createTenant>>;
  let b: Awaited<ReturnType<typeof createTenant>>;
  let router2: Awaited<ReturnType<typeof createRouter>>;
  let productoId: number;
  const get = (token: string, url: string) => t.request({ method: 'GET', url, headers: bearer(token) });
  const list = (qs = '') => get(a.token, `/api/v1/admin/mi-empresa/transacciones${qs}`);

  before(async () => {
    t = await startTestApp();
    a = await createTenant(t);
    b = await createTenant(t);
    router2 = await createRouter(t.ctx, a.empresa.id);
    const [p] = await t.ctx.db.orm
      .insert(productos)
      .values({ empresaId: a.empresa.id, routerId: a.router.id, perfilMikrotikId: '*1', perfilMikrotikNombre: 'h', nombreVenta: 'Hora', precio: '10.00' })
      .returning();
    productoId = p.id;
    const base = { empresaId: a.empresa.id, routerId: a.router.id, moneda: 'MXN' };
    await t.ctx.db.orm.insert(transacciones).values([
      { ...base, transaccionId: 'ord_jan', monto: '10.00', estadoPago: 'paid', clienteNombre: 'Ana López', creadaEn: '2026-01-10 12:00:00', productoId },
      { ...base, transaccionId: 'mp_feb', monto: '20.00', estadoPago: 'approved', clienteNombre: 'Beto', clienteEmail: 'beto@example.com', creadaEn: '2026-02-15 08:30:00' },
      { ...base, transaccionId: 'mp_feb_end', monto: '30.00', estadoPago: 'pending', clienteNombre: 'Carla 100%_off', creadaEn: '2026-02-28 23:59:59' },
      { ...base, routerId: router2.id, transaccionId: 'ord_mar', monto: '40.00', estadoPago: 'paid', clienteNombre: '=HYPERLINK("http://evil","x")', usuarioHotspot: 'PT-ABC123', creadaEn: '2026-03-01 00:00:00' },
      { ...base, transaccionId: 'ord_mar2', monto: '50.00', estadoPago: 'failed', clienteNombre: 'Dora, "la jefa"\nsegunda línea', creadaEn: '2026-03-05 10:00:00' },
      { empresaId: b.empresa.id, routerId: b.router.id, transaccionId: 'b_only', monto: '999.00', estadoPago: 'paid', clienteNombre: 'Ana de B', creadaEn: '2026-02-01 00:00:00' },
    ]);
  });
  after(async () => t.close());

  it('legacy shape and defaults (limit 50, offset 0), newest first, only my company', async () => {
    const res = await list();
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.data.empresa_id, a.empresa.id);
    assert.equal(res.data.total, 5);
    assert.equal(res.data.limit, 50);
    assert.equal(res.data.offset, 0);
    assert.deepEqual(res.data.transacciones.map((x: { transaccion_id: string }) => x.transaccion_id), ['ord_mar2', 'ord_mar', 'mp_feb_end', 'mp_feb', 'ord_jan']);
    const first = res.data.transacciones[4];
    assert.deepEqual(Object.keys(first).slice(0, 6), ['id', 'transaccion_id', 'monto', 'estado_pago', 'cliente_nombre', 'creada_en']);
    assert.equal(first.monto, 10);
    assert.equal(first.creada_en, '2026-01-10T12:00:00');
    assert.equal(first.producto_id, productoId);
    assert.ok(!('password_hotspot' in first));
  });

  it('paging is bounded: limit 1..500, offset ≥ 0, else 422', async () => {
    const page = await list('?limit=2&offset=1');
    assert.deepEqual(page.data.transacciones.map((x: { transaccion_id: string }) => x.transaccion_id), ['ord_mar', 'mp_feb_end']);
    assert.equal(page.data.total, 5);
    assert.equal(page.data.limit, 2);
    assert.equal(page.data.offset, 1);
    for (const qs of ['?limit=0', '?limit=-1', '?limit=501', '?offset=-1', '?limit=abc']) {
      const res = await list(qs);
      assert.equal(res.statusCode, 422, qs);
      assert.equal(res.data.detail[0].loc[0], 'query');
    }
    assert.equal((await list('?limit=500')).statusCode, 200);
  });

  it('filters: date range (a bare "hasta" date includes that whole day), estado, router, product, text', async () => {
    const ids = async (qs: string) => {
      const res = await list(qs);
      assert.equal(res.statusCode, 200, `${qs}: ${res.body}`);
      return res.data.transacciones.map((x: { transaccion_id: string }) => x.transaccion_id).sort();
    };
    assert.deepEqual(await ids('?desde=2026-02-01&hasta=2026-02-28'), ['mp_feb', 'mp_feb_end']);
    assert.deepEqual(await ids('?desde=2026-02-15T08:30:00&hasta=2026-03-01T00:00:00'), ['mp_feb', 'mp_feb_end', 'ord_mar']);
    assert.deepEqual(await ids('?estado=paid'), ['ord_jan', 'ord_mar']);
    assert.deepEqual(await ids(`?router_id=${router2.id}`), ['ord_mar']);
    assert.deepEqual(await ids(`?producto_id=${productoId}`), ['ord_jan']);
    assert.deepEqual(await ids('?q=ana'), ['ord_jan']);
    assert.deepEqual(await ids('?q=BETO@EXAMPLE'), ['mp_feb']);
    assert.deepEqual(await ids('?q=pt-abc'), ['ord_mar']);
    // LIKE wildcards in the search text are literal.
    assert.deepEqual(await ids('?q=100%25_'), ['mp_feb_end']);
    assert.deepEqual(await ids('?q=%25'), ['mp_feb_end']);
    assert.deepEqual(await ids(`?router_id=${b.router.id}`), []);
    const res = await list('?estado=paid&limit=1');
    assert.equal(res.data.total, 2);
  });

  it('bad filters → 422 (malformed dates, reversed range, oversize text)', async () => {
    for (const qs of ['?desde=ayer', '?desde=2026-13-45', '?desde=2026-03-01&hasta=2026-02-01', `?q=${'x'.repeat(101)}`, '?producto_id=abc']) {
      const res = await list(qs);
      assert.equal(res.statusCode, 422, qs);
      assert.equal(res.data.code, 'validation_error');
    }
  });

  it("tenant isolation: company B's admin never sees A's transactions", async () => {
    const res = await get(b.token, '/api/v1/admin/mi-empresa/transacciones');
    assert.deepEqual(res.data.transacciones.map((x: { transaccion_id: string }) => x.transaccion_id), ['b_only']);
    const csv = await get(b.token, '/api/v1/admin/mi-empresa/transacciones.csv');
    assert.doesNotMatch(csv.body, /ord_jan|mp_feb/);
  });

  it('CSV export: attachment, header, proper escaping, formula injection neutralised, same filters', async () => {
    const res = await get(a.token, '/api/v1/admin/mi-empresa/transacciones.csv');
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/csv; charset=utf-8/);
    assert.match(res.headers['content-disposition'] as string, /^attachment; filename="transacciones_.*\.csv"$/);
    assert.ok(res.body.startsWith('\uFEFF'));
    const rows = parseCsv(res.body.slice(1));
    const header = rows[0];
    assert.deepEqual(header.slice(0, 4), ['id', 'transaccion_id', 'external_reference', 'creada_en']);
    assert.ok(!header.includes('password_hotspot'));
    assert.equal(rows.length, 6);
    const col = (name: string) => header.indexOf(name);
    const byId = new Map(rows.slice(1).map((r) => [r[col('transaccion_id')], r]));
    assert.equal(byId.get('ord_mar2')![col('cliente_nombre')], 'Dora, "la jefa"\nsegunda línea');
    assert.equal(byId.get('ord_mar')![col('cliente_nombre')], `'=HYPERLINK("http://evil","x")`);
    assert.equal(byId.get('ord_jan')![col('monto')], '10.00');
    assert.equal(byId.get('ord_jan')![col('creada_en')], '2026-01-10T12:00:00');
    const filtered = parseCsv((await get(a.token, '/api/v1/admin/mi-empresa/transacciones.csv?estado=paid')).body.slice(1));
    assert.deepEqual(filtered.slice(1).map((r) => r[col('transaccion_id')]).sort(), ['ord_jan', 'ord_mar']);
    const bad = await get(a.token, '/api/v1/admin/mi-empresa/transacciones.csv?desde=nope');
    assert.equal(bad.statusCode, 422);
  });

  it('csvCell: quoting and formula prefixes', () => {
    assert.equal(csvCell(null), '');
    assert.equal(csvCell('plain'), 'plain');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    for (const s of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx']) assert.ok(csvCell(s).replace(/^"/, '').startsWith("'"), s);
    assert.equal(csvCell(-5), '-5');
  });

  it('exports more rows than one batch, each exactly once', async () => {
    const many = Array.from({ length: 1205 }, (_, i) => ({ empresaId: b.empresa.id, routerId: b.router.id, transaccionId: `bulk_${i}`, monto: '1.00', estadoPago: 'paid' }));
    await t.ctx.db.orm.insert(transacciones).values(many);
    const res = await get(b.token, '/api/v1/admin/mi-empresa/transacciones.csv');
    const rows = parseCsv(res.body.slice(1)).slice(1);
    assert.equal(rows.length, 1206);
    assert.equal(new Set(rows.map((r) => r[0])).size, 1206);
  });
});
