/**
 * Writes to a company's settings, with ONE storage rule for every endpoint that touches them:
 * - a field absent or `null` is left unchanged (`mode` included: omitting it never resets it);
 * - a secret sent back as the mask `********` is left unchanged (clients round-trip what GET shows);
 * - an empty (blank) string clears the value;
 * - anything else is trimmed and stored; secrets encrypted (Mercado Pago token and webhook secret with
 *   the Mercado Pago Fernet key, the Conekta private key and the Telegram token with the general key).
 * Each write is audited (field names only, never values) and announced as `empresa:<id>` so the public
 * config caches and router-key caches of every instance drop what they hold.
 */
import { eq } from 'drizzle-orm';
import type { AppContext } from '../../context.js';
import type { Tx } from '../../infra/db/index.js';
import { MASK } from '../../infra/crypto/secrets.js';
import { empresas } from '../../infra/db/schema.js';
import { badRequest, notFound } from '../../infra/errors.js';
import type { AuditActor } from '../tenants/audit.js';

export type EmpresaRow = typeof empresas.$inferSelect;

/** keep (undefined), clear (null) or set (string). */
export type Change = string | null | undefined;

export function interpret(value: string | null | undefined, isSecret = false): Change {
  if (value === undefined || value === null) return undefined;
  const v = value.trim();
  if (isSecret && v === MASK) return undefined;
  return v === '' ? null : v;
}

export interface SettingsChanges {
  nombre?: string;
  contactoEmail?: string;
  contactoTelefono?: Change;
  /** The privacy notice shown before paying on the checkout page (issue 13); cleared: the default text. */
  avisoPrivacidad?: Change;
  conektaPrivateKey?: Change;
  conektaPublicKey?: Change;
  conektaWebhookPublicKey?: Change;
  conektaMode?: string;
  mercadoPagoAccessToken?: Change;
  mercadoPagoPublicKey?: Change;
  mercadoPagoMode?: string;
  mercadoPagoWebhookSecret?: Change;
  telegramBotToken?: Change;
  telegramChatId?: Change;
  notificacionesTelegram?: boolean;
  /** Validated IANA name. */
  zonaHoraria?: string;
}

/** The empresa of a company admin, or the legacy errors. */
export async function loadEmpresa(ctx: AppContext, empresaId: string | null, executor: AppContext['db']['orm'] | Tx = ctx.db.orm): Promise<EmpresaRow> {
  if (!empresaId) throw badRequest('Usuario sin empresa asociada', 'user_without_empresa');
  const [row] = await executor.select().from(empresas).where(eq(empresas.id, empresaId)).limit(1);
  if (!row) throw notFound('Empresa no encontrada', 'empresa_not_found');
  return row;
}

/**
 * Apply the changes in one transaction; `check` runs on the locked row first (e.g. "empresa inactiva").
 * Returns the row after the change and the names of the fields actually written.
 */
export async function updateSettings(
  ctx: AppContext,
  actor: AuditActor,
  empresaId: string | null,
  changes: SettingsChanges,
  accion: string,
  check?: (row: EmpresaRow) => void,
): Promise<{ row: EmpresaRow; written: string[] }> {
  const { general, mercadoPago } = ctx.secrets;
  const set: Partial<typeof empresas.$inferInsert> = {};
  const written: string[] = [];
  const put = <K extends keyof typeof set>(key: K, value: (typeof set)[K]) => {
    set[key] = value;
    written.push(key);
  };
  if (changes.nombre !== undefined) put('nombre', changes.nombre);
  if (changes.contactoEmail !== undefined) put('contactoEmail', changes.contactoEmail);
  if (changes.contactoTelefono !== undefined) put('contactoTelefono', changes.contactoTelefono);
  if (changes.avisoPrivacidad !== undefined) put('avisoPrivacidad', changes.avisoPrivacidad);
  // NOT NULL legacy columns: clearing stores '' (the company then sells with the platform's default keys).
  if (changes.conektaPrivateKey !== undefined) put('conektaPrivateKey', changes.conektaPrivateKey === null ? '' : general.encrypt(changes.conektaPrivateKey)!);
  if (changes.conektaPublicKey !== undefined) put('conektaPublicKey', changes.conektaPublicKey ?? '');
  if (changes.conektaMode !== undefined) put('conektaMode', changes.conektaMode);
  if (changes.conektaWebhookPublicKey !== undefined) put('conektaWebhookPublicKey', changes.conektaWebhookPublicKey);
  if (changes.mercadoPagoAccessToken !== undefined) put('mercadoPagoAccessToken', mercadoPago.encrypt(changes.mercadoPagoAccessToken));
  if (changes.mercadoPagoPublicKey !== undefined) put('mercadoPagoPublicKey', changes.mercadoPagoPublicKey);
  if (changes.mercadoPagoMode !== undefined) put('mercadoPagoMode', changes.mercadoPagoMode);
  if (changes.mercadoPagoWebhookSecret !== undefined) put('mercadoPagoWebhookSecret', mercadoPago.encrypt(changes.mercadoPagoWebhookSecret));
  if (changes.telegramBotToken !== undefined) put('telegramBotToken', general.encrypt(changes.telegramBotToken));
  if (changes.telegramChatId !== undefined) put('telegramChatId', changes.telegramChatId);
  if (changes.notificacionesTelegram !== undefined) put('notificacionesTelegram', changes.notificacionesTelegram);
  if (changes.zonaHoraria !== undefined) put('zonaHoraria', changes.zonaHoraria);

  const row = await ctx.db.transaction(async (tx) => {
    if (!empresaId) throw badRequest('Usuario sin empresa asociada', 'user_without_empresa');
    const [current] = await tx.select().from(empresas).where(eq(empresas.id, empresaId)).for('update').limit(1);
    if (!current) throw notFound('Empresa no encontrada', 'empresa_not_found');
    check?.(current);
    if (written.length === 0) return current;
    const [updated] = await tx.update(empresas).set(set).where(eq(empresas.id, empresaId)).returning();
    await ctx.audit.record(actor, { accion, empresaId, recurso: 'empresa', recursoId: empresaId, detalles: { campos: written } }, tx);
    await ctx.bus.publish(`empresa:${empresaId}`, tx);
    return updated;
  });
  return { row, written };
}

/** Whether a stored secret/text column holds a value. */
export const isSet = (v: string | null | undefined): boolean => !!v && v.trim() !== '';
export const masked = (v: string | null | undefined): string | null => (isSet(v) ? MASK : null);
