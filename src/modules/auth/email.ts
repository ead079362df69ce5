/**
 * Email validation and normalisation as the legacy login did it (Python `email-validator`, deliverability
 * off): surrounding spaces stripped, "Name <a@b.c>" reduced to the address, domain lower-cased and
 * IDNA-encoded, special-use domains refused. Every write path uses the same function, so that what is
 * stored is exactly what login looks up.
 */
import { domainToASCII } from 'node:url';

export type EmailResult = { ok: true; email: string } | { ok: false; reason: string };

const SPECIAL_USE = ['arpa', 'invalid', 'local', 'localhost', 'onion', 'test'];
// RFC 5322 atext plus dots (dot-atom), and internationalised characters as email-validator allows.
const LOCAL_CHARS = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uFFFF.-]+$/;

export function normalizeEmail(input: string): EmailResult {
  let value = input.trim();
  const display = /^[^<>]*<([^<>]+)>$/.exec(value);
  if (display) value = display[1].trim();
  const at = value.lastIndexOf('@');
  if (at < 0) return { ok: false, reason: 'An email address must have an @-sign.' };
  const local = value.slice(0, at);
  const domainRaw = value.slice(at + 1);
  if (local === '') return { ok: false, reason: 'There must be something before the @-sign.' };
  if (domainRaw === '') return { ok: false, reason: 'There must be something after the @-sign.' };
  if (local.length > 64) return { ok: false, reason: 'The email address is too long before the @-sign.' };
  if (!LOCAL_CHARS.test(local)) {
    return { ok: false, reason: 'The email address contains invalid characters before the @-sign.' };
  }
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    return { ok: false, reason: 'The email address contains a period in an invalid position before the @-sign.' };
  }
  const domain = domainToASCII(domainRaw.toLowerCase());
  if (!domain) return { ok: false, reason: 'The part after the @-sign contains invalid characters.' };
  if (!domain.includes('.')) return { ok: false, reason: 'The part after the @-sign is not valid. It should have a period.' };
  const labels = domain.split('.');
  for (const label of labels) {
    if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) {
      return { ok: false, reason: 'The part after the @-sign is not valid.' };
    }
  }
  if (/^\d+$/.test(labels[labels.length - 1])) return { ok: false, reason: 'The part after the @-sign is not valid.' };
  const tld = labels[labels.length - 1];
  if (SPECIAL_USE.includes(tld) || domain === 'localhost') {
    return { ok: false, reason: 'The part after the @-sign is a special-use or reserved name that cannot be used with email.' };
  }
  const email = `${local}@${domain}`;
  if (email.length > 100) return { ok: false, reason: 'The email address is too long.' };
  return { ok: true, email };
}
