/**
 * Company data other modules need: the payment gateway and notification credentials of a company,
 * decrypted. Storage rule (the same for every endpoint that writes them): Mercado Pago access token and
 * webhook secret are Fernet tokens under ctx.secrets.mercadoPago; the Conekta private key and the Telegram
 * bot token under ctx.secrets.general; public keys and chat ids are clear text.
 */
import { eq, sql } from 'drizzle-orm';
import type { Config } from '../../config/index.js';
import type { Database } from '../../infra/db/index.js';
import type { SecretBoxes } from '../../infra/crypto/secrets.js';
import { empresas } from '../../infra/db/schema.js';

export interface GatewayCredentials {
  conekta: { privateKey: string; publicKey: string; mode: string };
  mercadoPago: { accessToken: string | null; publicKey: string | null; mode: string; webhookSecret: string | null };
  telegram: { botToken: string | null; chatId: string | null; enabled: boolean };
  nombre: string;
  activa: boolean;
}

const blankToNull = (s: string | null | undefined): string | null => (s && s.trim() !== '' ? s : null);

/** The credentials read, built once and prepared (named statement): it runs twice per purchase. */
const prepareCredentials = (db: Database) =>
  db.orm.select().from(empresas).where(eq(empresas.id, sql.placeholder('empresaId'))).limit(1).prepare('empresa_credenciales');

export class CompanyService {
  private credentialsQuery: ReturnType<typeof prepareCredentials> | null = null;

  constructor(
    private readonly db: Database,
    private readonly secrets: SecretBoxes,
    private readonly config: Pick<Config, 'conektaDefaultPrivateKey' | 'conektaDefaultPublicKey'>,
  ) {}

  /** The company's credentials with secrets decrypted; null when the company does not exist. */
  async getGatewayCredentials(empresaId: string): Promise<GatewayCredentials | null> {
    this.credentialsQuery ??= prepareCredentials(this.db);
    const [e] = await this.credentialsQuery.execute({ empresaId });
    if (!e) return null;
    const conektaPrivate = blankToNull(this.secrets.general.decrypt(e.conektaPrivateKey));
    const conektaPublic = blankToNull(e.conektaPublicKey);
    // A company without its own Conekta keys sells with the platform's (legacy behaviour).
    const ownConekta = conektaPrivate !== null && conektaPublic !== null;
    return {
      conekta: {
        privateKey: ownConekta ? conektaPrivate : this.config.conektaDefaultPrivateKey,
        publicKey: ownConekta ? conektaPublic : this.config.conektaDefaultPublicKey,
        mode: e.conektaMode ?? 'test',
      },
      mercadoPago: {
        accessToken: blankToNull(this.secrets.mercadoPago.decrypt(e.mercadoPagoAccessToken)),
        publicKey: blankToNull(e.mercadoPagoPublicKey),
        mode: e.mercadoPagoMode ?? 'test',
        webhookSecret: blankToNull(this.secrets.mercadoPago.decrypt(e.mercadoPagoWebhookSecret)),
      },
      telegram: {
        botToken: blankToNull(this.secrets.general.decrypt(e.telegramBotToken)),
        chatId: blankToNull(e.telegramChatId),
        enabled: e.notificacionesTelegram === true,
      },
      nombre: e.nombre,
      activa: e.activa !== false,
    };
  }
}
