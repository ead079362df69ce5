import { SignJWT, errors, jwtVerify } from 'jose';
import type { JwtAlgorithm } from '../../config/index.js';

export interface SessionClaims {
  sub: string;
  email: string;
  nombre: string;
  rol: string;
  empresa_id: string | null;
  exp: number;
  iat: number;
  type: 'access_token';
  /** Session version at issuance (absent in legacy tokens, which count as version 0). */
  sv?: number;
}

export type SessionVerification =
  | { ok: true; claims: SessionClaims }
  | { ok: false; reason: 'expired' | 'invalid' };

/** Admin session JWTs, with the legacy claim set (`sv` added for revocation). */
export class SessionTokens {
  private readonly key: Uint8Array;

  constructor(secret: string, private readonly algorithm: JwtAlgorithm, private readonly expireHours: number) {
    this.key = new TextEncoder().encode(secret);
  }

  async mint(user: { id: number; email: string; nombre: string; rol: string; empresaId: string | null; sessionVersion: number }, now = new Date()) {
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + this.expireHours * 3600;
    const token = await new SignJWT({
      sub: String(user.id),
      email: user.email,
      nombre: user.nombre,
      rol: user.rol,
      empresa_id: user.empresaId,
      exp,
      iat,
      type: 'access_token',
      sv: user.sessionVersion,
    })
      .setProtectedHeader({ alg: this.algorithm, typ: 'JWT' })
      .sign(this.key);
    return { token, exp };
  }

  async verify(token: string): Promise<SessionVerification> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: [this.algorithm] });
      if (payload.type !== 'access_token') return { ok: false, reason: 'invalid' };
      // jose only checks `exp` when present: a session without one would never end.
      if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) return { ok: false, reason: 'invalid' };
      if (typeof payload.sub !== 'string' || !/^\d{1,9}$/.test(payload.sub)) return { ok: false, reason: 'invalid' };
      if (payload.sv !== undefined && !Number.isInteger(payload.sv)) return { ok: false, reason: 'invalid' };
      return { ok: true, claims: payload as unknown as SessionClaims };
    } catch (err) {
      if (err instanceof errors.JWTExpired) return { ok: false, reason: 'expired' };
      return { ok: false, reason: 'invalid' };
    }
  }
}
