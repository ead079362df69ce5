/**
 * Secrets at rest. Every secret column holds a Fernet token; legacy clear-text values are still read
 * (and re-encrypted by the next write). Mercado Pago secrets use ENCRYPTION_KEY_MERCADO_PAGO (the
 * legacy key) and everything else a key derived from SECRET_KEY; each box also reads the other key so
 * that values written under either stay readable.
 */
import { hkdfSync } from 'node:crypto';
import { Fernet, FernetError, looksLikeFernetToken } from './fernet.js';

export const MASK = '********';

export class SecretUnreadableError extends Error {
  constructor() {
    super('Un secreto cifrado no se puede descifrar con las claves configuradas');
    this.name = 'SecretUnreadableError';
  }
}

/** Tokens opened recently (token → clear text), bounded; see SecretBox.decrypt. */
const OPENED_MAX = 512;

export class SecretBox {
  private readonly opened = new Map<string, string>();

  /** `trim`: strip surrounding spaces first (the legacy Mercado Pago helper did; passwords must keep them). */
  constructor(private readonly keys: Fernet[], private readonly trim = false) {}

  /** Empty (or, when trimming, blank) input means "no secret" (NULL), as in the legacy encrypt helper. */
  encrypt(plain: string | null | undefined): string | null {
    const value = this.trim ? plain?.trim() : plain;
    if (!value) return null;
    const token = this.keys[0].encrypt(value);
    // Made here with our key, so it opens to `value`: the purchase that encrypts a voucher password reads it back twice.
    this.remember(token, value);
    return token;
  }

  private remember(token: string, plain: string): void {
    if (this.opened.size >= OPENED_MAX) this.opened.delete(this.opened.keys().next().value!);
    this.opened.set(token, plain);
  }

  /** Clear text of a stored value; legacy clear text passes through; a token no key opens throws. */
  decrypt(stored: string | null | undefined): string | null {
    if (stored === null || stored === undefined || stored === '') return null;
    if (!looksLikeFernetToken(stored)) return stored;
    // A purchase opens the same few tokens (gateway keys twice, the router password) every time: a token
    // that verified once is remembered, keyed by the whole token (its HMAC included), so a changed or
    // forged token is never answered from here. Only successes are kept; failures are checked every time.
    const known = this.opened.get(stored);
    if (known !== undefined) return known;
    for (const key of this.keys) {
      try {
        const plain = key.decrypt(stored);
        this.remember(stored, plain);
        return plain;
      } catch (err) {
        if (!(err instanceof FernetError)) throw err;
      }
    }
    throw new SecretUnreadableError();
  }
}

export interface SecretBoxes {
  /** Router passwords, Conekta private keys, Telegram tokens, voucher passwords. */
  general: SecretBox;
  /** Mercado Pago access token and webhook secret (legacy Fernet key). */
  mercadoPago: SecretBox;
}

export function deriveFernetKey(secretKey: string, purpose: string): string {
  const raw = Buffer.from(hkdfSync('sha256', Buffer.from(secretKey, 'utf8'), Buffer.from('pagos-hotspot'), Buffer.from(purpose), 32));
  return raw.toString('base64url') + '=';
}

export function createSecretBoxes(secretKey: string, mercadoPagoKey: string): SecretBoxes {
  const derived = new Fernet(deriveFernetKey(secretKey, 'secrets-at-rest-v1'));
  const mp = mercadoPagoKey ? new Fernet(mercadoPagoKey) : null;
  return {
    general: new SecretBox(mp ? [derived, mp] : [derived]),
    mercadoPago: new SecretBox(mp ? [mp, derived] : [derived], true),
  };
}

/** What an API shows for a secret: a mask when set, null when not. */
export function mask(stored: string | null | undefined): string | null {
  return stored ? MASK : null;
}
