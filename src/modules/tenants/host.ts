/** A router's RouterOS API address: an IPv4/IPv6 literal or a DNS host name (the column holds 50 chars). */
import { isIP } from 'node:net';

export const HOST_MAX = 50;

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function isValidRouterHost(value: string): boolean {
  if (value.length === 0 || value.length > HOST_MAX) return false;
  if (isIP(value) !== 0) return true;
  // An IPv6 literal in brackets is how people paste it from URLs; store it bare instead (refuse here).
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  const labels = name.split('.');
  if (labels.some((l) => !LABEL.test(l))) return false;
  // All-numeric dotted names that are not valid IPv4 (e.g. 999.1.1.1) are typos, not host names.
  return !/^\d+$/.test(labels[labels.length - 1]);
}
