/**
 * Fernet (https://github.com/fernet/spec) on node:crypto, byte-compatible with Python's
 * `cryptography.fernet`. Own code because the npm `fernet` package patches String.prototype.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

const VERSION = 0x80;
const MIN_TOKEN_BYTES = 1 + 8 + 16 + 16 + 32;

export class FernetError extends Error {}

export class Fernet {
  // KeyObjects made once: node:crypto would otherwise import a raw key for every cipher and HMAC.
  private readonly signingKey: KeyObject;
  private readonly encryptionKey: KeyObject;

  /** `key`: url-safe base64 of 32 bytes (44 characters with padding), as Python generates it. */
  constructor(key: string) {
    const raw = decodeBase64Url(key.trim());
    if (!raw || raw.length !== 32) throw new FernetError('Fernet key must be 32 url-safe base64-encoded bytes');
    this.signingKey = createSecretKey(raw.subarray(0, 16));
    this.encryptionKey = createSecretKey(raw.subarray(16, 32));
  }

  static generateKey(): string {
    return randomBytes(32).toString('base64url') + '=';
  }

  encrypt(plaintext: string, now: Date = new Date(), iv: Buffer = randomBytes(16)): string {
    const cipher = createCipheriv('aes-128-cbc', this.encryptionKey, iv);
    const ciphertext = Buffer.concat([cipher.update(Buffer.from(plaintext, 'utf8')), cipher.final()]);
    const header = Buffer.alloc(9);
    header[0] = VERSION;
    header.writeBigUInt64BE(BigInt(Math.floor(now.getTime() / 1000)), 1);
    const body = Buffer.concat([header, iv, ciphertext]);
    const mac = createHmac('sha256', this.signingKey).update(body).digest();
    // Python emits standard url-safe base64 with '=' padding.
    return Buffer.concat([body, mac]).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
  }

  /** Throws FernetError for anything that is not a token made with this key. No TTL, like the legacy reader. */
  decrypt(token: string): string {
    const data = decodeBase64Url(token.trim());
    if (!data || data.length < MIN_TOKEN_BYTES || data[0] !== VERSION || (data.length - 57) % 16 !== 0) {
      throw new FernetError('not a Fernet token');
    }
    const body = data.subarray(0, data.length - 32);
    const mac = data.subarray(data.length - 32);
    const expected = createHmac('sha256', this.signingKey).update(body).digest();
    if (!timingSafeEqual(mac, expected)) throw new FernetError('invalid signature');
    const iv = body.subarray(9, 25);
    const decipher = createDecipheriv('aes-128-cbc', this.encryptionKey, iv);
    try {
      return Buffer.concat([decipher.update(body.subarray(25)), decipher.final()]).toString('utf8');
    } catch {
      throw new FernetError('invalid padding');
    }
  }
}

/** True when the value has the shape of a Fernet token (version byte 0x80, plausible length). */
export function looksLikeFernetToken(value: string): boolean {
  if (!value.startsWith('gAAAAA')) return false;
  const data = decodeBase64Url(value.trim());
  return !!data && data.length >= MIN_TOKEN_BYTES && data[0] === VERSION && (data.length - 57) % 16 === 0;
}

function decodeBase64Url(s: string): Buffer | null {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(s)) return null;
  return Buffer.from(s.replace(/=+$/, ''), 'base64url');
}
