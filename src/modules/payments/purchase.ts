/**
 * The purchase (contract §3): validate everything, check the router, record the attempt, charge once
 * (our referencia is the gateway's idempotency key), record the outcome and enqueue delivery in one
 * database transaction, try delivery at once, answer. Errors are returned as legacy-shaped responses
 * carrying our referencia, never thrown, so that Idempotency-Key can store exactly what was answered.
 */
import { randomUUID } from 'node:crypto';
import { sql, type SQL } from 'drizzle-orm';
import { ApiError, isDatabaseUnavailable, isDivisionByZero, isUniqueViolation } from '../../infra/errors.js';
import { transacciones } from '../../infra/db/schema.js';
import type { Executor } from '../../infra/db/index.js';
import { enqueueSql } from '../../infra/outbox.js';
import type { ChargeRequest, ChargeResult } from './gateways/types.js';
import { amountToCents, centsToDecimal, priceToCents } from './money.js';
import { isProfileMissing, isRouterUnreachable, telegramOn, type GatewayCredentialsView, type SellableProductView } from './ports.js';
import { JOB, NOW, findById, statementOf, markChallenge, markCharged, markDeclined, markPending, markUnknown, recordChallengePass, type StoredChallenge, type Transaccion } from './repository.js';
import { challengePassComment, deliver } from './workers.js';
import { autoConexion, conektaSuccess, mercadoPagoPending, mercadoPagoSuccess, type SaleContext } from './responses.js';
import type { PaymentsService } from './service.js';
import { generateVoucher, type TipoUsuario } from './vouchers.js';
import type { StoredResponse } from './idempotency.js';
import { lockAndTarget, type TopUpRequest, type TopUpTargets } from './recargas.js';

export interface Buyer {
  empresaId: string;
  routerId: string;
  keyId: string;
}

export interface PurchaseInput {
  gateway: 'conekta' | 'mercado_pago';
  productoId: number;
  cardToken: string;
  nombre: string;
  email: string;
  telefono: string | null;
  tipoUsuario: TipoUsuario | null;
  mac: string | null;
  ip: string | null;
  autoConnect: boolean;
  /** Ask for 3-D Secure (the checkout page only: it can show the challenge); where Conekta's redirect returns. */
  threeDs?: { returnUrl: string };
  mercadoPago?: { paymentMethodId: string; issuerId: string | null; monto: number; cuotas: number; deviceId: string | null };
  /** A top-up of this voucher (recargas.ts) instead of a new one; its proof is checked by the route. */
  recarga?: TopUpRequest;
}

const err = (status: number, detail: string, code: string, referencia: string, extra: Record<string, unknown> = {}): StoredResponse => ({
  status,
  body: { detail, code, referencia, ...extra },
});

/** A response plus whether money may have moved (then an Idempotency-Key must keep it). */
export interface PurchaseOutcome {
  response: StoredResponse;
  charged: boolean;
  referencia: string;
}

export interface PurchaseOptions {
  /** Our reference for this purchase (the route already shows it on every answer); a new one by default. */
  referencia?: string;
  /** One more write that must commit together with the attempt (the Idempotency-Key's referencia). */
  withAttempt?: (referencia: string) => SQL;
}

/**
 * Throws only before the attempt exists (nothing charged: the caller may release its Idempotency-Key).
 * From the attempt on, every failure becomes a response with `charged: true`, so a retry with the same
 * key replays it instead of charging again.
 */
export async function purchase(svc: PaymentsService, buyer: Buyer, input: PurchaseInput, opts: PurchaseOptions = {}): Promise<PurchaseOutcome> {
  const referencia = opts.referencia ?? randomUUID();
  const before = (response: StoredResponse): PurchaseOutcome => ({ response, charged: false, referencia });

  // Independent reads: one round trip of latency instead of two (the checks keep their order).
  const [creds, product] = await Promise.all([
    svc.deps.companies.getGatewayCredentials(buyer.empresaId),
    svc.deps.catalog.getSellableProduct(buyer.empresaId, buyer.routerId, input.productoId),
  ]);
  if (!creds) return before(err(404, 'Empresa no encontrada', 'empresa_not_found', referencia));
  if (input.gateway === 'mercado_pago' && !creds.mercadoPago.accessToken) {
    return before(err(400, 'La empresa no tiene configurado Mercado Pago', 'mercado_pago_not_configured', referencia));
  }
  if (input.gateway === 'conekta' && !creds.conekta.privateKey) {
    return before(err(400, 'La empresa no tiene configurado Conekta', 'conekta_not_configured', referencia));
  }

  if (!product) return before(err(404, 'Producto no encontrado', 'product_not_found', referencia));
  const priceCents = priceToCents(product.precio);
  if (priceCents === null || priceCents <= 0) return before(err(400, 'El producto no tiene un precio válido', 'invalid_price', referencia));
  if (input.mercadoPago && Math.abs(amountToCents(input.mercadoPago.monto) - priceCents) > 1) {
    return before(
      err(400, `El monto ($${input.mercadoPago.monto.toFixed(2)}) no coincide con el producto ($${centsToDecimal(priceCents)})`, 'amount_mismatch', referencia),
    );
  }
  const tipo: TipoUsuario = input.tipoUsuario ?? (product.tipoUsuarioDefault === 'pin' ? 'pin' : 'usuario_contrasena');
  // A top-up's proof (the voucher's password or PIN) is the route's job, through the voucher limiter.
  if (input.recarga && input.recarga.verificada !== true) throw new Error('recarga sin prueba de la ficha');

  // A dead router costs the customer nothing: it is checked before any money moves.
  try {
    await svc.hotspot().checkReady(buyer.routerId, product.perfilMikrotikNombre);
  } catch (e) {
    if (isProfileMissing(e)) {
      return before(err(503, `No se pudo crear el usuario: Perfil '${product.perfilMikrotikNombre}' no encontrado en el router`, 'router_profile_missing', referencia));
    }
    if (!isRouterUnreachable(e)) svc.deps.logger.error({ err: e, router: buyer.routerId }, 'verificación del router falló');
    return before(
      err(503, 'El router no está disponible en este momento. No se realizó ningún cargo; intente más tarde.', 'router_unavailable', referencia),
    );
  }

  await svc.hooks.beforeAttempt?.({ referencia });
  // The attempt exists from here on; its reconcile job finds out what happened if this process dies.
  const attempt = await createAttempt({ svc, buyer, input, product, priceCents, tipo, referencia, extra: opts.withAttempt?.(referencia) ?? null });
  try {
    return await chargeAndDeliver(svc, buyer, input, creds, product, priceCents, tipo, referencia, attempt);
  } catch (e) {
    // Money may have moved: answer (and let Idempotency-Key keep) a response that sends the customer to the
    // referencia; the reconcile and delivery jobs finish the purchase. A database outage is a 503, not a 500.
    const down = isDatabaseUnavailable(e);
    svc.deps.logger.error({ err: e, referencia }, down ? 'base de datos no disponible durante la compra' : 'error durante la compra');
    return {
      charged: true,
      referencia,
      response: err(
        down ? 503 : 500,
        'Su pago se está procesando; la compra se completará automáticamente. Consulte su referencia en unos momentos.',
        down ? 'database_unavailable' : 'internal_error',
        referencia,
        { estado: 'en_revision' },
      ),
    };
  }
}

/** The Idempotency-Key a request owns (its claim answered `owner`), and the token it owns it by. */
export interface OwnedKey {
  routerId: string;
  key: string;
  owner: string;
}

/**
 * A purchase under an owned Idempotency-Key, the one rule for every purchase endpoint: the attempt commits
 * with the key's referencia (only while the key still names its owner); a charged outcome completes the key,
 * one that charged nothing (or a throw, before any attempt) frees it and calls `onNotCharged`. The computed
 * answer is returned even if the key cannot be completed (the database dropped): a same-key retry is then
 * answered from the transaction row, never by charging again.
 */
export async function purchaseUnderKey(
  svc: PaymentsService,
  k: OwnedKey,
  run: (withAttempt: (referencia: string) => SQL) => Promise<PurchaseOutcome>,
  opts: { log: { error(obj: object, msg: string): void }; onNotCharged?: () => Promise<void> },
): Promise<PurchaseOutcome> {
  let outcome: PurchaseOutcome;
  try {
    outcome = await run((ref) => svc.idempotency.referenciaSql(k.routerId, k.key, k.owner, ref));
  } catch (e) {
    await opts.onNotCharged?.().catch(() => undefined);
    await svc.idempotency.release(k.routerId, k.key, k.owner).catch(() => undefined);
    throw e;
  }
  try {
    if (outcome.charged) await svc.idempotency.complete(k.routerId, k.key, outcome.response);
    else {
      await svc.idempotency.release(k.routerId, k.key, k.owner);
      await opts.onNotCharged?.();
    }
  } catch (e) {
    opts.log.error({ err: e, referencia: outcome.referencia }, 'no se pudo completar la clave de idempotencia');
  }
  return outcome;
}

async function chargeAndDeliver(
  svc: PaymentsService,
  buyer: Buyer,
  input: PurchaseInput,
  creds: GatewayCredentialsView,
  product: SellableProductView,
  priceCents: number,
  tipo: TipoUsuario,
  referencia: string,
  attempt: { id: number; password: string },
): Promise<PurchaseOutcome> {
  const { config, logger } = svc.deps;
  const charge: ChargeRequest = {
    referencia,
    amountCents: priceCents,
    currency: product.moneda || 'MXN',
    productId: product.id,
    productName: input.recarga ? `Recarga: ${product.nombreVenta}` : product.nombreVenta,
    cardToken: input.cardToken,
    customer: { name: input.nombre, email: input.email, phone: input.telefono },
    metadata: {
      empresa_id: buyer.empresaId,
      router_id: buyer.routerId,
      producto_id: product.id,
      auto_connect_requested: input.autoConnect,
      mac_cliente: input.mac ?? '',
      ip_cliente: input.ip ?? '',
      user_type: tipo,
    },
    clientIp: input.ip,
    ...(input.threeDs ? { threeDs: input.threeDs } : {}),
    ...(input.mercadoPago
      ? {
          mercadoPago: {
            paymentMethodId: input.mercadoPago.paymentMethodId,
            issuerId: input.mercadoPago.issuerId,
            installments: input.mercadoPago.cuotas,
            deviceId: input.mercadoPago.deviceId,
            mode: creds.mercadoPago.mode,
          },
        }
      : {}),
  };

  const result: ChargeResult =
    input.gateway === 'conekta'
      ? await svc.conekta.charge({ privateKey: creds.conekta.privateKey }, charge)
      : await svc.mercadoPago.charge({ accessToken: creds.mercadoPago.accessToken! }, charge);

  let charged: Awaited<ReturnType<typeof markCharged>> = null;
  let challenge: StoredChallenge | null = null;
  try {
    switch (result.outcome) {
      case 'challenge':
        challenge = { tipo: result.challenge.kind, url: result.challenge.url, ...(result.challenge.kind === 'iframe' ? { creq: result.challenge.creq } : {}) };
        await svc.deps.db.transaction((dbtx) =>
          markChallenge(dbtx, attempt.id, result.payment, challenge!, { pollInMs: svc.pendingPollMs(1), timeoutMs: config.threeDsChallengeTimeoutMs }),
        );
        break;
      case 'approved':
        // One statement (atomic without BEGIN/COMMIT): the sale and its delivery job, the job already
        // claimed by this request, which makes the first attempt itself; workers take over if we die.
        // Committed asynchronously (infra/db/async-commit.ts): lost to a database crash, it is the case of
        // this process dying right after the charge, which the attempt's reconcile job (committed
        // synchronously before the charge) already settles: it finds the payment by our referencia, records
        // it and delivers the attempt's voucher (the one this request may have created: same name and
        // comment, so it is created once).
        charged = await markCharged(svc.deps.db.orm, attempt.id, result.payment, config.provisionDeadlineMinutes, { claimForMs: svc.outbox.leaseMs, asyncCommit: true });
        break;
      case 'pending':
        await svc.deps.db.transaction((dbtx) => markPending(dbtx, attempt.id, result.payment, svc.pendingPollMs(1)));
        break;
      case 'declined':
        await svc.deps.db.transaction((dbtx) =>
          markDeclined(dbtx, attempt.id, {
            rawStatus: result.payment?.rawStatus || (input.gateway === 'conekta' ? 'declined' : 'rejected'),
            detail: result.payment?.statusDetail ?? null,
            paymentId: result.payment?.id ?? null,
            code: result.code,
            message: result.message,
            // A gateway 429 is "not charged, retry later", not a card decline the company should hear of.
            notifyCompany: !result.retryable,
          }),
        );
        break;
      case 'unknown':
        await svc.deps.db.transaction((dbtx) => markUnknown(dbtx, attempt.id, result.code, result.message, svc.reconcileDelayMs()));
        break;
    }
  } catch (e) {
    // The reconcile job created with the attempt will find the payment by our reference.
    const down = isDatabaseUnavailable(e);
    logger.error({ err: e, referencia }, 'no se pudo registrar el resultado del cobro');
    return {
      charged: true,
      referencia,
      response: err(down ? 503 : 500, 'No se pudo registrar el pago. Su compra se verificará automáticamente; consulte su referencia.', 'registro_pendiente', referencia, {
        estado: 'en_revision',
      }),
    };
  }
  const tx = { id: attempt.id };
  await svc.hooks.afterChargeRecorded?.({ transaccionId: tx.id, referencia, outcome: result.outcome });

  if (result.outcome === 'declined') {
    return { charged: true, referencia, response: err(result.httpStatus, result.message, result.code, referencia, { estado: 'rechazada' }) };
  }
  if (result.outcome === 'unknown') {
    // The gateway failed or did not answer: an upstream failure (502, 504 for a timeout), never a 500.
    const status = result.reason === 'timeout' ? 504 : 502;
    return { charged: true, referencia, response: err(status, result.message, result.code, referencia, { estado: 'en_revision' }) };
  }

  const sale = (row: Transaccion, auto: Record<string, unknown>): SaleContext => ({
    tx: row,
    // The row's own password: delivery may have renamed the voucher (a name taken on the router).
    password: row.passwordHotspot ? (svc.deps.secrets.general.decrypt(row.passwordHotspot) ?? '') : attempt.password,
    productoNombre: product.nombreVenta,
    perfil: product.perfilMikrotikNombre,
    priceCents,
    moneda: product.moneda || 'MXN',
    clienteNombre: input.nombre,
    clienteEmail: input.email,
    autoConexion: auto,
  });

  if (result.outcome === 'challenge') {
    const pass = await openChallengePass(svc, buyer, input, referencia);
    await recordChallengePass(svc.deps.db.orm, tx.id, pass).catch((e: unknown) => logger.warn({ err: e, referencia }, 'no se pudo registrar el paso del walled garden'));
    return { charged: true, referencia, response: { status: 202, body: challengeBody(referencia, { ...challenge!, paso_wifi: pass }, config.threeDsChallengeTimeoutMs) } };
  }

  if (result.outcome === 'pending') {
    const row = (await findById(svc.deps.db.orm, tx.id))!;
    return { charged: true, referencia, response: { status: 202, body: mercadoPagoPending(sale(row, {}), result.payment, input.mercadoPago!.cuotas) } };
  }

  // Approved: first delivery attempt right now (a worker retries it if this one fails or we die), with the
  // row markCharged returned (no re-read); a delivered row comes back from the same statement that records it.
  let row: Transaccion | null = charged?.tx ?? null;
  if (charged?.job) {
    const job = charged.job;
    await svc.outbox.runClaimed(job, (j) => deliver(svc, j, { known: charged.tx, onDelivered: (delivered) => (row = delivered), notify: telegramOn(creds) }));
    if (row?.estado !== 'entregada') row = await findById(svc.deps.db.orm, tx.id);
  }
  row ??= (await findById(svc.deps.db.orm, tx.id))!;
  const password = sale(row, {}).password;
  let auto = autoConexion(input.autoConnect, input.mac, input.ip, null);
  if (input.autoConnect && input.mac && row.estado === 'entregada') {
    try {
      const r = await svc.hotspot().autoConnect(buyer.routerId, { username: row.usuarioHotspot ?? '', password, mac: input.mac, ip: input.ip ?? '' });
      auto = autoConexion(true, input.mac, input.ip, r);
    } catch (e) {
      auto = autoConexion(true, input.mac, input.ip, { conectado: false, error: e instanceof Error ? e.message : String(e) });
    }
  }
  const body = input.gateway === 'conekta' ? conektaSuccess(sale(row, auto)) : mercadoPagoSuccess(sale(row, auto), result.payment, input.mercadoPago!.cuotas);
  // A top-up answers the same user and the totals it set (the sale's new terms once delivered).
  if (row.recargaDe !== null) body.recarga = { limite_minutos: row.recargaMinutos, limite_bytes: row.recargaBytes, vigencia_minutos: row.recargaVigenciaMinutos };
  return { charged: true, referencia, response: { status: 200, body } };
}

/**
 * While the bank's challenge is open the device, still behind the hotspot, must reach the issuer's hosts:
 * a TLS-only walled-garden pass for its address through the RouterOS API (closed by the pass job when the
 * challenge ends or expires). false: no address, or the router could not be reached: only a frictionless
 * authentication can complete, and the page says so.
 */
async function openChallengePass(svc: PaymentsService, buyer: Buyer, input: PurchaseInput, referencia: string): Promise<boolean> {
  if (!input.ip) return false;
  try {
    await svc.hotspot().openChallengePass(buyer.routerId, { ip: input.ip, comment: challengePassComment(referencia) });
    return true;
  } catch (e) {
    svc.deps.logger.warn({ err: e, referencia, router: buyer.routerId }, 'no se pudo abrir el paso 3-D Secure en el router');
    return false;
  }
}

/** The answer of a purchase waiting for the customer's bank (also what the page's status shows on reload). */
export function challengeBody(referencia: string, c: StoredChallenge, timeoutMs: number): Record<string, unknown> {
  return {
    success: false,
    code: 'autenticacion_requerida',
    detail: 'Tu banco pide confirmar el pago.',
    referencia,
    estado: 'en_autenticacion',
    autenticacion: { tipo: c.tipo, url: c.url, ...(c.creq ? { creq: c.creq } : {}), paso_wifi: c.paso_wifi === true, segundos: Math.round(timeoutMs / 1000) },
  };
}

/**
 * Record the attempt, its reconcile job and `extra` (the Idempotency-Key's referencia) as ONE statement:
 * atomic by itself, committed before the gateway is called (crash recovery relies on it), in one round trip
 * instead of a transaction and two more commits. `cobro_intentado_en` is set here too: the charge call
 * starts right after this commit with nothing in between, and the reconciler's grace period (twice the
 * gateway timeout plus slack) counts from it.
 */
/** What recording one attempt needs (the purchase being made). */
interface AttemptContext {
  svc: PaymentsService;
  buyer: Buyer;
  input: PurchaseInput;
  product: SellableProductView;
  priceCents: number;
  tipo: TipoUsuario;
  referencia: string;
  /** The Idempotency-Key's guard: must return one row, else nothing is recorded. */
  extra: SQL | null;
}

async function createAttempt(a: AttemptContext): Promise<{ id: number; password: string }> {
  const { svc, buyer, input, product, tipo } = a;
  if (input.recarga) {
    // A top-up: under the sale's row lock, its targets from the sale's terms as they are now (recargas.ts).
    const usuario = input.recarga.usuario;
    return svc.deps.db.transaction(async (t) => {
      const { voucher, targets } = await lockAndTarget(t, buyer.routerId, buyer.empresaId, usuario, product);
      const password = voucher.passwordEnc ? (svc.deps.secrets.general.decrypt(voucher.passwordEnc) ?? '') : '';
      const recorded = await insertAttempt({ ...a, tipo: (voucher.tipoUsuario as TipoUsuario) ?? tipo }, t, 0, {
        username: voucher.usuario,
        password,
        passwordEnc: voucher.passwordEnc,
        perfil: voucher.perfil ?? product.perfilMikrotikNombre,
        targets,
      });
      if (!recorded) throw new Error('top-up attempt not recorded');
      return recorded;
    });
  }
  for (let attempt = 0; ; attempt++) {
    const creds = generateVoucher(tipo, svc.voucherLengths);
    const result = await insertAttempt(a, svc.deps.db.orm, attempt, {
      username: creds.username,
      password: creds.password ?? '',
      passwordEnc: creds.password ? svc.deps.secrets.general.encrypt(creds.password) : null,
      perfil: product.perfilMikrotikNombre,
      targets: null,
    });
    if (result) return result;
  }
}

interface AttemptVoucher {
  username: string;
  password: string;
  passwordEnc: string | null;
  perfil: string;
  /** A top-up's targets (it names its sale's user and carries no plan terms of its own). */
  targets: TopUpTargets | null;
}

/** One try at recording the attempt; null when the drawn voucher name was taken (draw another). */
async function insertAttempt(a: AttemptContext, ex: Executor, attempt: number, v: AttemptVoucher): Promise<{ id: number; password: string } | null> {
  const { svc, buyer, input, product, priceCents, tipo, referencia, extra } = a;
  const topUp = v.targets;
  {
    const insert = ex
      .insert(transacciones)
      .values({
        referencia,
        estado: 'iniciada',
        pasarela: input.gateway,
        externalReference: input.gateway === 'mercado_pago' ? referencia : null,
        empresaId: buyer.empresaId,
        routerId: buyer.routerId,
        productoId: product.id,
        monto: centsToDecimal(priceCents),
        montoCentavos: priceCents,
        moneda: product.moneda || 'MXN',
        clienteNombre: input.nombre,
        clienteEmail: input.email,
        clienteTelefono: input.telefono,
        usuarioHotspot: v.username,
        passwordHotspot: v.passwordEnc,
        tipoUsuario: tipo,
        perfilHotspot: v.perfil,
        // The plan's terms as sold (the vouchers module enforces the validity); a top-up has none of its
        // own (the sweeper and profile-info read the sale's), only its targets.
        limiteMinutos: topUp ? null : product.duracionMinutos,
        vigenciaMinutos: topUp ? null : (product.vigenciaMinutos ?? null),
        vigenciaDesde: !topUp && product.vigenciaMinutos ? (product.vigenciaDesde ?? 'primer_uso') : null,
        limiteBytes: topUp ? null : (product.limiteBytes ?? null),
        ...(topUp ?? {}),
        estadoPago: 'pending',
        estadoHotspot: 'pending',
        apiKeyUsada: buyer.keyId,
        metadataJson: {
          gateway: input.gateway,
          referencia,
          producto_nombre: product.nombreVenta,
          auto_connect_requested: input.autoConnect,
          ...(topUp ? { recarga_de: topUp.recargaDe } : {}),
          ...(input.mercadoPago ? { installments: input.mercadoPago.cuotas, webhook_expected: true } : {}),
        },
        cobroIntentadoEn: NOW,
        actualizadaEn: NOW,
      })
      .returning({ id: transacciones.id });
    // Safety net for a crash anywhere after this commit: ask the gateway by reference later.
    const reconcile = enqueueSql(JOB.reconcile, sql`jsonb_build_object('transaccionId', t.id)`, sql`'conciliar:' || t.id::text`, { delayMs: svc.abandonedAfterMs() }, sql`FROM t`);
    try {
      // `extra` (the Idempotency-Key's referencia) must return one row, else the statement fails by a division by
      // zero and records nothing: the key was taken over by another request, which now owns the purchase.
      // (`owned` is selected so the planner cannot drop the division.)
      const result = await ex.execute(
        extra
          ? sql`WITH t AS (${statementOf(insert)}), r AS (${reconcile}), x AS (${extra}), g AS (SELECT 1 / count(*)::int AS owned FROM x) SELECT t.id, g.owned FROM t, g`
          : sql`WITH t AS (${statementOf(insert)}), r AS (${reconcile}) SELECT id FROM t`,
      );
      const [row] = (result as unknown as { rows: { id: number | string }[] }).rows;
      return { id: Number(row.id), password: v.password };
    } catch (e) {
      if (!topUp && attempt < 5 && isUniqueViolation(e, 'uq_transacciones_voucher_vivo')) return null;
      if (isUniqueViolation(e, 'uq_transacciones_recarga_en_curso')) {
        throw new ApiError(409, 'Ya hay una recarga en curso para esta ficha; espere a que termine. No se realizó ningún cargo.', 'recarga_en_curso');
      }
      if (extra && isDivisionByZero(e)) {
        throw new ApiError(
          409,
          'Otra solicitud con esta clave de idempotencia tomó la compra; consulte esa solicitud. No se realizó ningún cargo en esta.',
          'idempotency_key_taken_over',
        );
      }
      throw e;
    }
  }
}
