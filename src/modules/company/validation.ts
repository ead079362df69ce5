/**
 * Request checks the JSON schema cannot express with Ajv's type coercion on (which silently turns an
 * explicit `null` into `false`, `0` or `""`): fields that must not be null answer a 422 instead.
 */
import type { FastifyRequest, preValidationAsyncHookHandler } from 'fastify';
import { isIP } from 'node:net';
import { ValidationFailed } from '../../infra/errors.js';

export function rejectNulls(fields: readonly string[]): preValidationAsyncHookHandler {
  return async (request: FastifyRequest) => {
    const body = request.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) return;
    const items = fields
      .filter((f) => Object.prototype.hasOwnProperty.call(body, f) && (body as Record<string, unknown>)[f] === null)
      .map((f) => ({ type: 'null_not_allowed', loc: ['body', f], msg: 'Este campo no puede ser null', input: null }));
    if (items.length > 0) throw new ValidationFailed(items);
  };
}

/** A bare host name or IP address (no scheme, path, port or spaces). */
export function isValidHost(host: string): boolean {
  if (host.length === 0 || host.length > 50) return false;
  if (isIP(host) !== 0) return true;
  // Looks like an IPv4 address or has a colon, but is not a valid address (e.g. "300.1.1.1", "10.0.0.1:8728").
  if (/^[\d.]+$/.test(host) || host.includes(':')) return false;
  return /^(?=.{1,50}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(host);
}

/**
 * The hotspot's login address devices open (`dns-name` of a hotspot server profile, or the router setting
 * `dns_name`): a host name of letters, digits and inner hyphens, or an IPv4 address; up to 253
 * characters. It goes into printed QR URLs, so nothing else (no scheme, port, path, spaces, `@`).
 */
export function isHotspotDnsName(host: string): boolean {
  if (host.length < 1 || host.length > 253) return false;
  if (/^[\d.]+$/.test(host)) return isIP(host) === 4;
  return host.split('.').every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}
