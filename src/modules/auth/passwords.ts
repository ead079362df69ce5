import bcrypt from 'bcrypt';

/**
 * bcrypt through the native `bcrypt` package: hashing and comparing run on libuv's thread pool, never
 * on the event loop. `$2a$`, `$2b$` and `$2y$` hashes verify (the three differ only in name).
 */
export class PasswordHasher {
  private dummy: Promise<string> | null = null;

  constructor(private readonly rounds: number) {}

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.rounds);
  }

  async verify(password: string, hash: string | null | undefined): Promise<boolean> {
    if (!hash || !/^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/.test(hash)) {
      // Spend the same time as a real check, so that a missing or corrupt hash is not observable.
      await bcrypt.compare(password, await this.dummyHash());
      return false;
    }
    try {
      return await bcrypt.compare(password, hash.replace(/^\$2y\$/, '$2b$'));
    } catch {
      return false;
    }
  }

  /** A hash of nothing in particular at the configured cost, to compare against for unknown accounts. */
  dummyHash(): Promise<string> {
    const dummy = this.dummy ?? bcrypt.hash('pagos-hotspot-timing-equaliser', this.rounds);
    this.dummy = dummy;
    return dummy;
  }
}

export const PASSWORD_MIN_LENGTH = 8;

/** The password policy for every password an admin sets; null when acceptable. */
export function passwordPolicyViolation(password: string): string | null {
  if (password.length < PASSWORD_MIN_LENGTH) return `La contraseña debe tener al menos ${PASSWORD_MIN_LENGTH} caracteres`;
  if (Buffer.byteLength(password, 'utf8') > 72) return 'La contraseña no puede exceder 72 bytes';
  return null;
}
