/**
 * E-mail receipt to the buyer after an approved online sale: plan, amount, credentials and referencia.
 * An outbox job (`fichas.recibo`) queued in the same statement that records the delivery, so a receipt
 * exists exactly when a voucher was delivered (never for a declined card). Off when `SMTP_URL` is unset
 * (no job is queued). Sent once per purchase as far as SMTP allows: the job is deduplicated per purchase
 * and its Message-ID is fixed by the referencia, so a retried send after a lost reply is recognisable.
 */
import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Database } from '../../infra/db/index.js';
import type { SecretBox } from '../../infra/crypto/secrets.js';
import type { JobResult, Outbox, OutboxJob } from '../../infra/outbox.js';
import { RECEIPT_JOB } from '../payments/repository.js';

export interface ReceiptDeps {
  db: Database;
  outbox: Outbox;
  secrets: SecretBox;
  logger: Logger;
  config: { smtpUrl: string; smtpFrom: string };
}

interface ReceiptRow {
  id: number;
  referencia: string | null;
  cliente_nombre: string | null;
  cliente_email: string | null;
  usuario_hotspot: string | null;
  password_hotspot: string | null;
  tipo_usuario: string | null;
  monto: string;
  moneda: string | null;
  producto: string | null;
  empresa: string;
  zona_horaria: string;
  pagada_en: string | null;
  vigencia_minutos: number | null;
  limite_bytes: number | string | null;
}

export class ReceiptService {
  private transport: Transporter | null = null;

  constructor(private readonly deps: ReceiptDeps) {
    // Mail servers reject for minutes at a time (greylisting); about a day of retries, then it is logged dead.
    deps.outbox.on(RECEIPT_JOB, (job) => this.send(job), { maxAttempts: 40, maxBackoffMs: 60 * 60_000 });
  }

  get enabled(): boolean {
    return this.deps.config.smtpUrl !== '';
  }

  /** nodemailer is loaded with the first receipt (about 15 MB of an idle instance that sends none). */
  private async mailer(): Promise<Transporter> {
    if (!this.transport) {
      const { default: nodemailer } = await import('nodemailer');
      this.transport ??= nodemailer.createTransport(this.deps.config.smtpUrl);
    }
    return this.transport;
  }

  private async send(job: OutboxJob): Promise<JobResult> {
    if (!this.enabled) return;
    const [r] = await this.deps.db.query<ReceiptRow>(
      `SELECT t.id, t.referencia, t.cliente_nombre, t.cliente_email, t.usuario_hotspot, t.password_hotspot, t.tipo_usuario,
              t.monto::text AS monto, t.moneda, t.metadata_json->>'producto_nombre' AS producto, e.nombre AS empresa,
              e.zona_horaria, t.pagada_en::text AS pagada_en, t.vigencia_minutos, t.limite_bytes
         FROM transacciones t JOIN empresas e ON e.id = t.empresa_id
        WHERE t.id = $1 AND t.estado IN ('entregada', 'reembolso_parcial')`,
      [Number(job.payload.transaccionId)],
    );
    if (!r?.cliente_email || !r.usuario_hotspot) return;
    const password = r.password_hotspot ? (this.deps.secrets.decrypt(r.password_hotspot) ?? '') : '';
    const pin = r.tipo_usuario === 'pin' || password === '';
    const amount = `$${Number(r.monto).toFixed(2)} ${r.moneda ?? 'MXN'}`;
    const when = r.pagada_en ? formatInZone(r.pagada_en, r.zona_horaria) : null;
    const lines = [
      `Hola ${r.cliente_nombre ?? ''}`.trim() + ',',
      '',
      `Gracias por su compra en ${r.empresa}.`,
      '',
      `Plan: ${r.producto ?? ''}`,
      `Importe: ${amount}`,
      ...(when ? [`Fecha: ${when}`] : []),
      ...(pin ? [`PIN: ${r.usuario_hotspot}`] : [`Usuario: ${r.usuario_hotspot}`, `Contraseña: ${password}`]),
      ...(r.vigencia_minutos ? [`Vigencia: ${r.vigencia_minutos} minutos desde el primer uso o la venta, según el plan`] : []),
      ...(r.limite_bytes ? [`Datos: ${formatBytes(Number(r.limite_bytes))}`] : []),
      `Referencia: ${r.referencia ?? r.id}`,
      '',
      'Guarde este correo: lo necesitará si cambia de dispositivo.',
    ];
    await job.lease?.confirm();
    await (await this.mailer()).sendMail({
      from: this.deps.config.smtpFrom,
      to: r.cliente_email,
      subject: `Su ficha de Internet — ${r.empresa}`,
      text: lines.join('\n'),
      messageId: `<recibo-${r.referencia ?? r.id}@pagos-hotspot>`,
    });
    this.deps.logger.info({ transaccion: r.id }, 'recibo enviado');
  }

  close(): void {
    this.transport?.close();
    this.transport = null;
  }
}

/** `2026-12-03 14:05:00` (naive UTC) shown in the company's zone. */
export function formatInZone(naiveUtc: string, zone: string): string {
  const d = new Date(naiveUtc.replace(' ', 'T') + 'Z');
  try {
    return new Intl.DateTimeFormat('es-MX', { timeZone: zone, dateStyle: 'medium', timeStyle: 'short' }).format(d) + ` (${zone})`;
  } catch {
    return d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  }
}

export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(n % 1e9 === 0 ? 0 : 1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n % 1e6 === 0 ? 0 : 1)} MB`;
  return `${n} bytes`;
}
