/**
 * The networks a router may be on (ROUTER_ALLOWED_NETWORKS) — the one place for that rule. A company admin
 * chooses a router's host and port, so without it the service would connect (and write RouterOS words)
 * anywhere it can reach: its own database, Redis, SSH, the cloud metadata service.
 *
 * - Default: every unicast address except loopback, link-local, unspecified, multicast, broadcast/reserved
 *   and the cloud metadata addresses. Setting the variable replaces the default (a VPN-only deployment sets
 *   `10.8.0.0/16`; the demo and tests set `127.0.0.1/32`).
 * - Checked when a router is saved (an address literal, or a name that resolves, must be allowed) and again
 *   on every connect after DNS resolution; the connection dials the address that was checked, so a name
 *   that later resolves elsewhere is refused then.
 * - Whatever the list says, never the host and port of our own database or Redis.
 */
import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';

export class RouterNetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RouterNetworkError';
  }
}

/** Never allowed by the default (the list; metadata: AWS/GCP/Azure/OpenStack, Alibaba, AWS IPv6). */
const DEFAULT_DENIED: ReadonlyArray<string> = [
  '0.0.0.0/8', // unspecified / "this network"
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local (169.254.169.254: metadata)
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, and 255.255.255.255 broadcast
  '100.100.100.200/32', // Alibaba Cloud metadata
  '::/128', // unspecified
  '::1/128', // loopback
  'fe80::/10', // link-local
  'ff00::/8', // multicast
  'fd00:ec2::254/128', // AWS metadata over IPv6
];

export interface ServiceEndpoint {
  host: string;
  port: number;
}

/** `a.b.c.d/n` or `x::y/n` (a bare address is a single host). Returns the problem, or null. */
export function cidrProblem(entry: string): string | null {
  const [addr, bits, extra] = entry.split('/');
  const family = isIP(addr ?? '');
  if (extra !== undefined || family === 0) return `"${entry}" no es una red CIDR (ej. 10.8.0.0/16)`;
  if (bits === undefined) return null;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `"${entry}": prefijo inválido (0 a ${max})`;
  return null;
}

export function parseNetworkList(raw: string): { networks: string[]; problems: string[] } {
  const networks = raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  return { networks, problems: networks.map(cidrProblem).filter((p): p is string => p !== null) };
}

function addTo(list: BlockList, entry: string): void {
  const [addr, bits] = entry.split('/');
  const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
  list.addSubnet(addr, bits === undefined ? (type === 'ipv4' ? 32 : 128) : Number(bits), type);
}

/** `::ffff:a.b.c.d` is the IPv4 address (so a mapped loopback is loopback). */
export function unmapIPv4(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1] : ip;
}

const LOCAL_V4 = new BlockList();
LOCAL_V4.addSubnet('127.0.0.0', 8, 'ipv4');
LOCAL_V4.addSubnet('0.0.0.0', 8, 'ipv4');

function isThisMachine(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4 && LOCAL_V4.check(ip, 'ipv4')) return true;
  if (family === 6 && (ip === '::1' || ip === '::')) return true;
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) if (i.address === ip) return true;
  return false;
}

export interface RouterNetworkOptions {
  /** CIDR list from ROUTER_ALLOWED_NETWORKS; null: the default (unicast minus the denied ranges). */
  allowed: string[] | null;
  /** Our own database and Redis: never a router's destination. */
  services: ServiceEndpoint[];
  /** Name resolution (tests may inject one); default: the system resolver, all addresses. */
  resolve?: (host: string) => Promise<string[]>;
  resolveTimeoutMs?: number;
}

export class RouterNetworkPolicy {
  private readonly allowList: BlockList | null;
  private readonly denyList = new BlockList();
  private readonly resolver: (host: string) => Promise<string[]>;
  private readonly timeoutMs: number;

  constructor(private readonly opts: RouterNetworkOptions) {
    if (opts.allowed) {
      this.allowList = new BlockList();
      for (const n of opts.allowed) addTo(this.allowList, n);
    } else {
      this.allowList = null;
      for (const n of DEFAULT_DENIED) addTo(this.denyList, n);
    }
    this.resolver = opts.resolve ?? (async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address));
    this.timeoutMs = opts.resolveTimeoutMs ?? 3000;
  }

  /** Human description for messages. */
  get description(): string {
    return this.opts.allowed ? this.opts.allowed.join(', ') : 'direcciones unicast públicas o privadas (sin loopback, link-local ni metadatos de la nube)';
  }

  /** Why this address and port may not be a router's, or null when they may. */
  addressProblem(rawIp: string, port: number): string | null {
    const ip = unmapIPv4(rawIp);
    const family = isIP(ip);
    if (family === 0) return `dirección inválida: ${rawIp}`;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    const allowed = this.allowList ? this.allowList.check(ip, type) : !this.denyList.check(ip, type);
    if (!allowed) return `la dirección ${ip} no está en las redes permitidas para routers (${this.description})`;
    if (this.isOwnService(ip, port)) return `la dirección ${ip}:${port} es un servicio interno de esta instalación`;
    return null;
  }

  private isOwnService(ip: string, port: number): boolean {
    for (const s of this.opts.services) {
      if (s.port !== port) continue;
      const serviceIp = isIP(s.host) ? unmapIPv4(s.host) : null;
      if (serviceIp === ip) return true;
      // A service on this machine (localhost, a local interface, a name): any address of this machine.
      if ((serviceIp === null || isThisMachine(serviceIp)) && isThisMachine(ip)) return true;
      if (serviceIp === null && this.serviceAddresses.get(s.host)?.includes(ip)) return true;
    }
    return false;
  }

  /** Resolved addresses of service host names (filled by `resolveServices`). */
  private readonly serviceAddresses = new Map<string, string[]>();

  /** Resolve the database/Redis host names once (best effort) so that their addresses are refused too. */
  async resolveServices(): Promise<void> {
    for (const s of this.opts.services) {
      if (isIP(s.host) || this.serviceAddresses.has(s.host)) continue;
      try {
        this.serviceAddresses.set(s.host, (await this.resolveAll(s.host)).map(unmapIPv4));
      } catch {
        /* unresolvable now: the machine-local rule above still applies */
      }
    }
  }

  private async resolveAll(host: string): Promise<string[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RouterNetworkError(`no se pudo resolver ${host} a tiempo`)), this.timeoutMs);
    });
    try {
      return await Promise.race([this.resolver(host), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The address to dial for a router's host: resolved, and every address the name has must be allowed
   * (a name with one forbidden address is refused rather than letting round-robin pick it).
   */
  async resolveForConnect(host: string, port: number): Promise<string> {
    await this.resolveServices();
    let addresses: string[];
    if (isIP(host)) addresses = [host];
    else {
      try {
        addresses = await this.resolveAll(host);
      } catch (err) {
        throw new RouterNetworkError(err instanceof RouterNetworkError ? err.message : `no se pudo resolver el nombre ${host}`);
      }
    }
    if (addresses.length === 0) throw new RouterNetworkError(`no se pudo resolver el nombre ${host}`);
    for (const a of addresses) {
      const problem = this.addressProblem(a, port);
      if (problem) throw new RouterNetworkError(problem);
    }
    return unmapIPv4(addresses[0]);
  }

  /**
   * Check on save: an address literal must be allowed; a name must not resolve to a forbidden address
   * (a name that does not resolve yet is accepted: it is checked again on every connect).
   */
  async problemOnSave(host: string, port: number): Promise<string | null> {
    await this.resolveServices();
    if (isIP(host)) return this.addressProblem(host, port);
    let addresses: string[];
    try {
      addresses = await this.resolveAll(host);
    } catch {
      return null;
    }
    for (const a of addresses) {
      const problem = this.addressProblem(a, port);
      if (problem) return `${host}: ${problem}`;
    }
    return null;
  }
}

/** Host and port of a postgres:// or redis:// URL (null for PGlite, sockets or unparsable values). */
export function serviceEndpoint(url: string, defaultPort: number): ServiceEndpoint | null {
  try {
    const u = new URL(url);
    if (!u.hostname) return null;
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : defaultPort };
  } catch {
    return null;
  }
}
