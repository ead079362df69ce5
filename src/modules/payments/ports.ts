/**
 * What payments needs from other modules, as the agreed contracts (notes/interfaces.md) describe them.
 * Structural types, so the module compiles and is tested against the real services without importing
 * their internals; router errors are recognised by class name.
 */

export interface VoucherSpec {
  username: string;
  password: string;
  profile: string;
  limitUptimeMinutes?: number | null;
  /** Data allowance (`limit-bytes-total`). */
  limitBytesTotal?: number | null;
  comment: string;
}

export interface HotspotPort {
  checkReady(routerId: string, profile: string): Promise<void>;
  createVoucher(routerId: string, spec: VoucherSpec): Promise<{ created: boolean }>;
  removeVoucher(routerId: string, username: string): Promise<void>;
  setVoucherLimits(routerId: string, username: string, comment: string, limits: { limitUptimeMinutes: number | null; limitBytesTotal: number | null }): Promise<{ found: boolean }>;
  findUser(routerId: string, username: string): Promise<{ name: string; profile: string; comment?: string; disabled: boolean } | null>;
  autoConnect(routerId: string, input: { username: string; password: string; mac: string; ip: string }): Promise<Record<string, unknown>>;
  /** A TLS-only walled-garden pass for one device (3-D Secure: the bank's challenge page is on unknown hosts). */
  openChallengePass(routerId: string, pass: { ip: string; comment: string }): Promise<void>;
  /** Remove every walled-garden pass with this comment (none is fine). */
  closeChallengePass(routerId: string, comment: string): Promise<void>;
}

export interface SellableProductView {
  id: number;
  empresaId: string;
  routerId: string;
  perfilMikrotikNombre: string;
  nombreVenta: string;
  precio: string;
  moneda: string;
  duracionMinutos: number | null;
  tipoUsuarioDefault: string | null;
  vigenciaMinutos?: number | null;
  vigenciaDesde?: string | null;
  limiteBytes?: number | null;
}

export interface CatalogPort {
  getSellableProduct(empresaId: string, routerId: string, productoId: number): Promise<SellableProductView | null>;
}

export interface GatewayCredentialsView {
  conekta: { privateKey: string; publicKey: string; mode: string };
  mercadoPago: { accessToken: string | null; publicKey: string | null; mode: string; webhookSecret: string | null };
  telegram: { botToken: string | null; chatId: string | null; enabled: boolean };
  nombre: string;
  activa: boolean;
}

export interface CompaniesPort {
  getGatewayCredentials(empresaId: string): Promise<GatewayCredentialsView | null>;
}

/** The company hears of its sales on Telegram: switched on, with a bot and a chat (the one rule for enqueueing and sending). */
export const telegramOn = <C extends Pick<GatewayCredentialsView, 'telegram'>>(c: C | null): c is C & { telegram: { botToken: string; chatId: string; enabled: true } } =>
  !!c && c.telegram.enabled && !!c.telegram.botToken && !!c.telegram.chatId;

export interface TelegramPort {
  send(botToken: string, chatId: string, html: string): Promise<void>;
}

function isNamed(err: unknown, name: string): boolean {
  if (!(err instanceof Error)) return false;
  for (let proto: object | null = Object.getPrototypeOf(err); proto && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === name) return true;
  }
  return err.name === name;
}

export const isRouterUnreachable = (err: unknown) => isNamed(err, 'RouterUnreachableError');
export const isProfileMissing = (err: unknown) => isNamed(err, 'RouterProfileMissingError');
export const isVoucherNameTaken = (err: unknown) => isNamed(err, 'VoucherNameTakenError');
export const isTelegramRejection = (err: unknown) => isNamed(err, 'TelegramError') && (err as { status?: number | null }).status === 400;
