/**
 * The purchase (contract §3): validate everything, check the router, record the attempt, charge once
 * (our referencia is the gateway's idempotency key), record the outcome and enqueue delivery in one
 * database transaction, try delivery at once, answer. Errors are returned as legacy-shaped responses
 * carrying our referencia, never thrown, so that Idempotency-Key can store exactly what was answered.
 */
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { isUniqueViolation } from '../../infra/errors.js';
import { transacciones } from '../../infra/db/schema.js';
import { enqueue } from '../../infra/outbox.js';
import type { ChargeRequest, ChargeResult } from './gateways/types.js';
import { amountToCents, centsToDecimal, priceToCents } from './money.js';
import { isProfileMissing, isRouterUnreachable, type SellableProductView } from './ports.js';
import { JOB, NOW, findById, markCharged, markDeclined, markPending, markUnknown, type Transaccion } from './repository.js';
import { autoConexion, conektaSuccess, mercadoPagoPending, mercadoPagoSuccess, type SaleContext } from './responses.js';
import type { PaymentsService } from './service.js';
import { generateVoucher, type TipoUsuario } from './vouchers.js';
import type { StoredResponse } from './idempotency.js';

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
  mercadoPago?: { paymentMethodId: string; issuerId: string | null; monto: number; cuotas: number; deviceId: string | null };
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

export async function purchase(svc: PaymentsService, buyer: Buyer, input: PurchaseInput, onReferencia?: (ref: string) => Promise<void>): Promise<PurchaseOutcome> {
  const referencia = randomUUID();
  const before = (response: StoredResponse): PurchaseOutcome => ({ response, charged: false, referencia });
  const { config, logger } = svc.deps;

  const creds = await svc.deps.companies.getGatewayCredentials(buyer.empresaId);
  if (!creds) return before(err(404, 'Empresa no encontrada', 'empresa_not_found', referencia));
  if (input.gateway === 'mercado_pago' && !creds.mercadoPago.accessToken) {
    return before(err(400, 'La empresa no tiene configurado Mercado Pago', 'mercado_pago_not_configured', referencia));
  }
  if (input.gateway === 'conekta' && !creds.conekta.privateKey) {
    return before(err(400, 'La empresa no tiene configurado Conekta', 'conekta_not_configured', referencia));
  }

  const product = await svc.deps.catalog.getSellableProduct(buyer.empresaId, buyer.routerId, input.productoId);
  if (!product) return before(err(404, 'Producto no encontrado', 'product_not_found', referencia));
  const priceCents = priceToCents(product.precio);
  if (priceCents === null || priceCents <= 0) return before(err(400, 'El producto no tiene un precio válido', 'invalid_price', referencia));
  if (input.mercadoPago && Math.abs(amountToCents(input.mercadoPago.monto) - priceCents) > 1) {
    return before(
      err(400, `El monto ($${input.mercadoPago.monto.toFixed(2)}) no coincide con el producto ($${centsToDecimal(priceCents)})`, 'amount_mismatch', referencia),
    );
  }
  const tipo: TipoUsuario = input.tipoUsuario ?? (product.tipoUsuarioDefault === 'pin' ? 'pin' : 'usuario_contrasena');

  // A dead router costs the customer nothing: it is checked before any money moves.
  try {
    await svc.hotspot().checkReady(buyer.routerId, product.perfilMikrotikNombre);
  } catch (e) {
    if (isProfileMissing(e)) {
      return before(err(503, `No se pudo crear el usuario: Perfil '${product.perfilMikrotikNombre}' no encontrado en el router`, 'router_profile_missing', referencia));
    }
    if (!isRouterUnreachable(e)) logger.error({ err: e, router: buyer.routerId }, 'verificación del router falló');
    return before(
      err(503, 'El router no está disponible en este momento. No se realizó ningún cargo; intente más tarde.', 'router_unavailable', referencia),
    );
  }

  // The attempt exists from here on; its reconcile job finds out what happened if this process dies.
  const tx = await createAttempt(svc, buyer, input, product, priceCents, tipo, referencia);
  const password = tx.passwordHotspot ? (svc.deps.secrets.general.decrypt(tx.passwordHotspot) ?? '') : '';
  await onReferencia?.(referencia);

  const charge: ChargeRequest = {
    referencia,
    amountCents: priceCents,
    currency: product.moneda || 'MXN',
    productId: product.id,
    productName: product.nombreVenta,
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

  await svc.deps.db.orm.update(transacciones).set({ cobroIntentadoEn: NOW, actualizadaEn: NOW }).where(eq(transacciones.id, tx.id));
  const result: ChargeResult =
    input.gateway === 'conekta'
      ? await svc.conekta.charge({ privateKey: creds.conekta.privateKey }, charge)
      : await svc.mercadoPago.charge({ accessToken: creds.mercadoPago.accessToken! }, charge);

  let deliverJob: number | null;
  try {
    deliverJob = await svc.deps.db.transaction(async (dbtx) => {
      switch (result.outcome) {
        case 'approved':
          // The request makes the first delivery attempt itself; workers step in after a few seconds.
          return markCharged(dbtx, tx.id, result.payment, config.provisionDeadlineMinutes, 3_000);
        case 'pending':
          await markPending(dbtx, tx.id, result.payment, svc.pendingPollMs(1));
          return null;
        case 'declined':
          await markDeclined(dbtx, tx.id, {
            rawStatus: result.payment?.rawStatus || (input.gateway === 'conekta' ? 'declined' : 'rejected'),
            detail: result.payment?.statusDetail ?? null,
            paymentId: result.payment?.id ?? null,
            code: result.code,
            message: result.message,
            notifyCompany: true,
          });
          return null;
        case 'unknown':
          await markUnknown(dbtx, tx.id, result.code, result.message, svc.reconcileDelayMs());
          return null;
      }
    });
  } catch (e) {
    // The reconcile job created with the attempt will find the payment by our reference.
    logger.error({ err: e, referencia }, 'no se pudo registrar el resultado del cobro');
    return {
      charged: true,
      referencia,
      response: err(500, 'No se pudo registrar el pago. Su compra se verificará automáticamente; consulte su referencia.', 'registro_pendiente', referencia, {
        estado: 'en_revision',
      }),
    };
  }
  await svc.hooks.afterChargeRecorded?.({ transaccionId: tx.id, referencia, outcome: result.outcome });

  if (result.outcome === 'declined') {
    return { charged: true, referencia, response: err(result.httpStatus, result.message, result.code, referencia, { estado: 'rechazada' }) };
  }
  if (result.outcome === 'unknown') {
    return { charged: true, referencia, response: err(result.httpStatus, result.message, result.code, referencia, { estado: 'en_revision' }) };
  }

  const sale = (row: Transaccion, auto: Record<string, unknown>): SaleContext => ({
    tx: row,
    password,
    productoNombre: product.nombreVenta,
    perfil: product.perfilMikrotikNombre,
    priceCents,
    moneda: product.moneda || 'MXN',
    clienteNombre: input.nombre,
    clienteEmail: input.email,
    autoConexion: auto,
  });

  if (result.outcome === 'pending') {
    const row = (await findById(svc.deps.db.orm, tx.id))!;
    return { charged: true, referencia, response: { status: 202, body: mercadoPagoPending(sale(row, {}), result.payment, input.mercadoPago!.cuotas) } };
  }

  // Approved: first delivery attempt right now (a worker retries it if this one fails or we die).
  if (deliverJob !== null) {
    try {
      await svc.outbox.runNow(deliverJob);
    } catch (e) {
      logger.warn({ err: e, referencia }, 'primer intento de entrega falló');
    }
  }
  const row = (await findById(svc.deps.db.orm, tx.id))!;
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
  return { charged: true, referencia, response: { status: 200, body } };
}

async function createAttempt(
  svc: PaymentsService,
  buyer: Buyer,
  input: PurchaseInput,
  product: SellableProductView,
  priceCents: number,
  tipo: TipoUsuario,
  referencia: string,
): Promise<Transaccion> {
  for (let attempt = 0; ; attempt++) {
    const creds = generateVoucher(tipo, svc.voucherLengths);
    try {
      return await svc.deps.db.transaction(async (dbtx) => {
        const [row] = await dbtx
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
            usuarioHotspot: creds.username,
            passwordHotspot: creds.password ? svc.deps.secrets.general.encrypt(creds.password) : null,
            tipoUsuario: tipo,
            perfilHotspot: product.perfilMikrotikNombre,
            limiteMinutos: product.duracionMinutos,
            estadoPago: 'pending',
            estadoHotspot: 'pending',
            apiKeyUsada: buyer.keyId,
            metadataJson: {
              gateway: input.gateway,
              referencia,
              producto_nombre: product.nombreVenta,
              auto_connect_requested: input.autoConnect,
              ...(input.mercadoPago ? { installments: input.mercadoPago.cuotas, webhook_expected: true } : {}),
            },
            actualizadaEn: sql`(now() AT TIME ZONE 'utc')`,
          })
          .returning();
        // Safety net for a crash anywhere after this commit: ask the gateway by reference later.
        await enqueue(dbtx, JOB.reconcile, { transaccionId: row.id }, { dedupeKey: `conciliar:${row.id}`, delayMs: svc.abandonedAfterMs() });
        return row;
      });
    } catch (e) {
      if (attempt < 5 && isUniqueViolation(e, 'uq_transacciones_voucher_vivo')) continue;
      throw e;
    }
  }
}
