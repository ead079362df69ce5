/**
 * Voucher credentials from a cryptographic generator (the legacy used Python's `random`): `PT-` + upper
 * alphanumerics with a numeric password, or for PIN vouchers `PT-` + digits and no password.
 */
import { randomInt } from 'node:crypto';

export type TipoUsuario = 'usuario_contrasena' | 'pin';

export interface VoucherLengths {
  username: number;
  password: number;
  pin: number;
}

/** Defaults no shorter than the legacy ones (5 alphanumerics, 4-digit password, 5-digit PIN). */
export const DEFAULT_VOUCHER_LENGTHS: VoucherLengths = { username: 5, password: 4, pin: 6 };

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const DIGITS = '0123456789';

function pick(alphabet: string, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}

export interface VoucherCredentials {
  username: string;
  /** '' for PIN vouchers. */
  password: string;
}

export function generateVoucher(tipo: TipoUsuario, lengths: VoucherLengths = DEFAULT_VOUCHER_LENGTHS): VoucherCredentials {
  if (tipo === 'pin') return { username: `PT-${pick(DIGITS, lengths.pin)}`, password: '' };
  return { username: `PT-${pick(ALNUM, lengths.username)}`, password: pick(DIGITS, lengths.password) };
}

/** The RouterOS comment that marks a hotspot user as ours and names its purchase. */
export function voucherComment(referencia: string): string {
  return `pagos-hotspot tx=${referencia}`;
}
