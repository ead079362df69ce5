/**
 * Checks of a router's connection settings on save, shared by the super admin's and the company admin's
 * router endpoints: the address must be on an allowed router network (infra/router-networks), the API
 * user and password printable and bounded, and the TLS settings well-formed. Each problem is a 422 item.
 * TLS settings are never echoed back in full (`tlsSummary`).
 */
import { X509Certificate } from 'node:crypto';
import type { AppContext } from '../../context.js';
import { ValidationFailed } from '../../infra/errors.js';
import { routerCredentialProblem } from '../hotspot/validation.js';

export interface RouterSettingsInput {
  host?: string;
  puerto?: number;
  usuario?: string;
  password?: string;
  tls_ca?: string | null;
  tls_fingerprint?: string | null;
}

type Item = { type: string; loc: Array<string | number>; msg: string; input?: unknown };

export const TLS_CA_MAX = 16 * 1024;
const FINGERPRINT = /^(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{64}$/;

/** Throws a 422 listing every problem of the settings being saved. */
export async function assertRouterSettings(ctx: AppContext, input: RouterSettingsInput, fields: { password: string } = { password: 'password' }): Promise<void> {
  const items: Item[] = [];
  if (input.usuario !== undefined) {
    const p = routerCredentialProblem('usuario', input.usuario);
    if (p) items.push({ type: 'value_error', loc: ['body', 'usuario'], msg: `Value error, ${p}` });
  }
  if (input.password !== undefined) {
    const p = routerCredentialProblem('password', input.password);
    if (p) items.push({ type: 'value_error', loc: ['body', fields.password], msg: `Value error, ${p.replace(/^password/, fields.password)}` });
  }
  if (input.tls_ca !== undefined && input.tls_ca !== null && input.tls_ca !== '') {
    if (input.tls_ca.length > TLS_CA_MAX || !isCertificate(input.tls_ca)) {
      items.push({ type: 'value_error', loc: ['body', 'tls_ca'], msg: `Value error, tls_ca debe ser un certificado X.509 en PEM (máximo ${TLS_CA_MAX} caracteres)` });
    }
  }
  if (input.tls_fingerprint !== undefined && input.tls_fingerprint !== null && input.tls_fingerprint !== '' && !FINGERPRINT.test(input.tls_fingerprint.trim())) {
    items.push({ type: 'value_error', loc: ['body', 'tls_fingerprint'], msg: 'Value error, tls_fingerprint debe ser la huella SHA-256 del certificado del router (64 hexadecimales, con o sin ":")' });
  }
  if (input.host !== undefined && items.length === 0) {
    const problem = await ctx.hotspot.networks.problemOnSave(input.host, input.puerto ?? 8728);
    if (problem) items.push({ type: 'value_error', loc: ['body', 'host'], msg: `Value error, router no permitido: ${problem}` });
  }
  if (items.length > 0) throw new ValidationFailed(items);
}

function isCertificate(pem: string): boolean {
  if (!/-----BEGIN CERTIFICATE-----/.test(pem)) return false;
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

/** What the admin endpoints show of a router's TLS settings: whether they are set, never their value. */
export function tlsSummary(r: { tls: boolean | null; tlsCa: string | null; tlsFingerprint: string | null; puerto: number | null }) {
  const fp = r.tlsFingerprint?.replace(/[^0-9A-Fa-f]/g, '').toUpperCase() ?? '';
  return {
    tls: r.tls ?? (r.puerto ?? 8728) === 8729,
    tls_ca_configurada: !!r.tlsCa,
    // The last four hex digits let an operator tell two pins apart without reading the value back.
    tls_fingerprint: fp ? `…${fp.slice(-4)}` : null,
  };
}
