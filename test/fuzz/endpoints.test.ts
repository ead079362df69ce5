/**
 * Fuzz pass over every endpoint of the OpenAPI document (so new endpoints are covered without editing
 * this file): generated hostile input, with credentials of the right kind, of the wrong kind and none.
 * For every answer: never a 500, no stack trace or internal text, errors are JSON {detail, code}, and an
 * error leaves every table's row count as it was (no partial write).
 *
 * Bounded: FUZZ_RUNS cases per endpoint (default 25), fixed seed unless FUZZ_SEED is set.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startTestApp, bearer, type TestApp } from '../helpers/app.js';
import { createEmpresa, createRouter, createUser } from '../helpers/fixtures.js';
import { productos } from '../../src/infra/db/schema.js';
import { bodyFor, nastyString, pathValue, serialize, valueFor, type JsonSchema } from './arbitraries.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const SEED = Number(process.env.FUZZ_SEED ?? 20260805);
// Operations not worth fuzzing: the docs UI and the document itself (static, not JSON errors).
const SKIP = [/^\/docs/, /^\/openapi\.json$/];

// Text that must never reach a client: stack frames, file paths, driver and engine messages.
const INTERNAL = [
  /\n\s+at [\w.<>]+ \(/,
  /node_modules/,
  /\/work\//,
  /file:\/\//,
  /\.ts:\d+/,
  /Cannot read propert/,
  /is not a function/,
  /is not defined/,
  /duplicate key value/,
  /violates (not-null|foreign key|check|unique)/,
  /SQLSTATE/,
  /syntax error at or near/,
  /invalid input syntax for/,
  /out of range for type/,
  /value too long for type/,
  /Failed query/,
  /drizzle/i,
];

interface Operation {
  method: string;
  path: string;
  security: string[];
  body?: JsonSchema;
  bodyTypes: string[];
  pathParams: string[];
  query: Array<{ name: string; schema?: JsonSchema }>;
}

type CredentialKind = 'none' | 'superAdmin' | 'clienteAdmin' | 'routerKey' | 'routerKeyHeader' | 'garbage';

interface Tenant {
  empresaId: string;
  routerId: string;
  routerKey: string;
  keyId: string;
  adminId: number;
  adminToken: string;
  productId: number;
}

interface Failure {
  op: string;
  credential: string;
  url: string;
  body: string;
  status: number;
  response: string;
  reason: string;
}

/** Percent-encode every byte of the UTF-8 form (lone surrogates become U+FFFD instead of throwing). */
const encodeSegment = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

const clip = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

describe('fuzz: every endpoint under hostile input', () => {
  let t: TestApp;
  let ops: Operation[] = [];
  let tables: string[] = [];
  let other: Tenant;
  const failures: Failure[] = [];

  const newTenant = async (): Promise<Tenant> => {
    const empresa = await createEmpresa(t.ctx);
    const router = await createRouter(t.ctx, empresa.id);
    const admin = await createUser(t.ctx, { rol: 'cliente_admin', empresaId: empresa.id });
    const adminToken = await t.login(admin.email, admin.password);
    const [p] = await t.ctx.db.orm
      .insert(productos)
      .values({ empresaId: empresa.id, routerId: router.id, perfilMikrotikId: '*1', perfilMikrotikNombre: 'default', nombreVenta: 'Una hora', precio: '19.99', moneda: 'MXN', detalles: [{ texto: 'x' }] })
      .returning({ id: productos.id });
    return { empresaId: empresa.id, routerId: router.id, routerKey: router.apiKey, keyId: router.keyId, adminId: admin.id, adminToken, productId: p.id };
  };

  const rowCounts = async (): Promise<Record<string, number>> => {
    const sql = `SELECT ${tables.map((n, i) => `(SELECT count(*) FROM "${n}") AS c${i}`).join(', ')}`;
    const [row] = await t.ctx.db.query<Record<string, number>>(sql);
    return Object.fromEntries(tables.map((n, i) => [n, Number(row[`c${i}`])]));
  };

  before(async () => {
    // Every external system points at a closed local port: nothing leaves the machine, failures are fast.
    const closed = 'http://127.0.0.1:9';
    t = await startTestApp({ env: { CONEKTA_API_BASE: closed, MERCADO_PAGO_API_BASE: closed, TELEGRAM_API_BASE: closed, PUBLIC_BASE_URL: 'http://127.0.0.1:9' } });
    const doc = (await t.request({ method: 'GET', url: '/openapi.json' })).data as { paths: Record<string, Record<string, any>> };
    for (const [path, methods] of Object.entries(doc.paths)) {
      if (SKIP.some((re) => re.test(path))) continue;
      for (const [method, op] of Object.entries(methods)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
        const params = (op.parameters ?? []) as Array<{ in: string; name: string; schema?: JsonSchema }>;
        const content = (op.requestBody?.content ?? {}) as Record<string, { schema?: JsonSchema }>;
        ops.push({
          method: method.toUpperCase(),
          path,
          security: ((op.security ?? []) as Array<Record<string, unknown>>).flatMap((s) => Object.keys(s)),
          body: content['application/json']?.schema ?? content['multipart/form-data']?.schema,
          bodyTypes: Object.keys(content),
          pathParams: [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]),
          query: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema })),
        });
      }
    }
    if (process.env.FUZZ_ONLY) ops = ops.filter((o) => `${o.method} ${o.path}`.includes(process.env.FUZZ_ONLY!));
    tables = (
      await t.ctx.db.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`)
    ).map((r) => r.table_name);
    other = await newTenant();
  });

  after(async () => {
    await t?.close();
  });

  it('the OpenAPI document lists the endpoints to fuzz', () => {
    assert.ok(ops.length >= 10, `only ${ops.length} operations found`);
    assert.ok(tables.includes('empresas') && tables.includes('transacciones'));
  });

  it('no 500, no internal text, JSON errors, no partial write', async (ctx) => {
    for (const op of ops) {
      const name = `${op.method} ${op.path}`;
      await ctx.test(name, async () => {
        // A fresh company per endpoint: what earlier endpoints toggled, revoked or deleted does not matter.
        const mine = await newTenant();
        // A super admin of its own too: fuzzed user edits may hit any user id, the bootstrap one included.
        const sa = await createUser(t.ctx, { rol: 'super_admin' });
        const saToken = await t.login(sa.email, sa.password);
        const known: Record<string, string[]> = {
          empresa_id: [mine.empresaId, other.empresaId],
          router_id: [mine.routerId, other.routerId],
          key_id: [mine.keyId, other.keyId],
          usuario_id: [String(mine.adminId), String(other.adminId)],
          producto_id: [String(mine.productId), String(other.productId)],
          product_id: [String(mine.productId)],
        };
        const rightKinds: CredentialKind[] = op.security.includes('apiKeyHeader')
          ? ['routerKey', 'routerKeyHeader']
          : op.path.startsWith('/admin')
            ? ['superAdmin']
            : op.security.includes('bearerAuth')
              ? ['clienteAdmin', 'superAdmin']
              : ['none'];
        const credential = fc.oneof(
          { weight: 5, arbitrary: fc.constantFrom(...rightKinds) },
          { weight: 2, arbitrary: fc.constant<CredentialKind>('none') },
          { weight: 3, arbitrary: fc.constantFrom<CredentialKind>('superAdmin', 'clienteAdmin', 'routerKey', 'routerKeyHeader', 'garbage') },
        );
        const headersFor = (kind: CredentialKind, junk: string): Record<string, string> => {
          switch (kind) {
            case 'superAdmin':
              return bearer(saToken);
            case 'clienteAdmin':
              return bearer(mine.adminToken);
            case 'routerKey':
              return bearer(mine.routerKey);
            case 'routerKeyHeader':
              return { 'x-api-key': mine.routerKey };
            case 'garbage':
              return { authorization: junk, 'x-api-key': junk };
            default:
              return {};
          }
        };
        const query = fc.tuple(
          fc.record(Object.fromEntries(op.query.map((q) => [q.name, valueFor(q.schema).map((v) => (v !== null && typeof v === 'object' ? serialize(v) : String(v)))])), { requiredKeys: [] }),
          fc.option(fc.dictionary(fc.string({ maxLength: 10 }), nastyString, { maxKeys: 2 })),
        );
        const pathArbs = op.pathParams.map((p) => pathValue(known[p] ?? []));
        const hasBody = op.bodyTypes.length > 0 || op.method !== 'GET';
        const arb = fc.record({
          credential,
          junk: fc.constantFrom('Bearer', 'Bearer ', 'Basic YWRtaW46YWRtaW4=', 'Bearer jwt_', 'Bearer jwt_a.b.c', 'Bearer a.b.c', `Bearer ${'x'.repeat(5000)}`, 'Token abc', 'bearer  null'),
          params: fc.tuple(...pathArbs),
          query,
          body: hasBody ? fc.option(bodyFor(op.body), { freq: 8 }) : fc.constant(null),
        });

        const check = async (input: any) => {
          let url = op.path;
          op.pathParams.forEach((p, i) => {
            const v = input.params[i] as { value: string; encode: boolean };
            url = url.replace(`{${p}}`, v.encode ? encodeSegment(v.value) : v.value);
          });
          const [q, extra] = input.query as [Record<string, string>, Record<string, string> | null];
          const qs = new URLSearchParams({ ...q, ...(extra ?? {}) }).toString();
          if (qs) url += `?${qs}`;
          const headers = headersFor(input.credential, input.junk);
          let payload: string | undefined;
          const b = input.body as { kind: 'json'; value: unknown } | { kind: 'raw'; text: string; contentType: string } | null;
          if (b?.kind === 'json') {
            payload = serialize(b.value);
            headers['content-type'] = 'application/json';
          } else if (b?.kind === 'raw') {
            payload = b.text;
            headers['content-type'] = b.contentType;
          }
          const before = await rowCounts();
          const res = await t.app.inject({ method: op.method as 'GET', url, headers, payload });
          const body = res.body;
          const fail = (reason: string) => failures.push({ op: name, credential: input.credential, url: clip(url), body: clip(payload ?? ''), status: res.statusCode, response: clip(body), reason });
          if (res.statusCode === 500) fail('500');
          const leak = INTERNAL.find((re) => re.test(body));
          if (leak) fail(`internal text ${leak}`);
          if (res.statusCode >= 400) {
            let json: any;
            try {
              json = JSON.parse(body);
            } catch {
              /* checked below */
            }
            if (!json || typeof json !== 'object' || !('detail' in json) || typeof json.code !== 'string') fail('error body is not JSON {detail, code}');
            const afterCounts = await rowCounts();
            const changed = tables.filter((n) => afterCounts[n] !== before[n]);
            if (changed.length) fail(`partial write on ${res.statusCode}: ${changed.map((n) => `${n} ${before[n]}→${afterCounts[n]}`).join(', ')}`);
          }
        };

        const found = failures.length;
        await fc.assert(
          fc.asyncProperty(arb, async (input) => {
            await check(input);
          }),
          { numRuns: RUNS, seed: SEED, endOnFailure: true },
        );
        const mineFailures = failures.slice(found);
        assert.equal(
          mineFailures.length,
          0,
          `${name}: ${mineFailures.length} bad answers (seed ${SEED}); first ones:\n` + mineFailures.slice(0, 3).map((f) => JSON.stringify(f, null, 1)).join('\n'),
        );
      });
    }
  });
});
