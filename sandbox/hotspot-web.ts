/**
 * The web side of the simulated MikroTik hotspot, for the demo and the browser tests: it serves the
 * captive-portal kit the way a router serves its hotspot directory (HTML files with the hotspot
 * variables `$(mac)`, `$(ip)`, `$(link-login-only)`, `$(link-orig)`, `$(chap-id)`, ... substituted; other
 * files verbatim) and answers the login form posted to `$(link-login-only)` by checking the voucher
 * (HTTP CHAP or PAP) against the simulated router's users and opening an active session there.
 *
 * One browser stands for many devices, so the device's MAC and IP travel in the page URL
 * (`/login?mac=..&ip=..`) and in `link-login-only`, where a real router knows them from the network.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenSandbox } from './http.js';
import type { SimState } from './routeros/state.js';

export interface HotspotDevice {
  mac: string;
  ip: string;
  /** The page the device first asked for (`$(link-orig)`). */
  dst?: string;
}

export interface HotspotLoginRecord {
  username: string;
  mac: string;
  ip: string;
  method: 'http-chap' | 'http-pap';
  ok: boolean;
  error: string | null;
}

export interface HotspotWebOptions {
  /** The hotspot directory: file name → content (login.html is the page). */
  files: Record<string, string | Uint8Array>;
  /** The simulated router whose users and sessions the login form uses. */
  state: SimState;
  host?: string;
  port?: number;
  /** Offer HTTP CHAP (default) or only PAP. */
  chap?: boolean;
}

export interface HotspotWeb {
  url: string;
  /** Where the router would send this device: the login page with its variables. */
  pageUrl(device: HotspotDevice): string;
  setFiles(files: Record<string, string | Uint8Array>): void;
  logins: HotspotLoginRecord[];
  close(): Promise<void>;
}

const MAC = /^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'application/javascript; charset=utf-8', css: 'text/css; charset=utf-8', txt: 'text/plain; charset=utf-8', png: 'image/png', svg: 'image/svg+xml' };

/** RouterOS writes CHAP bytes as octal escapes inside the page ("\\123"), to be read by JavaScript. */
function octal(bytes: Buffer): string {
  return [...bytes].map((b) => '\\' + b.toString(8).padStart(3, '0')).join('');
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Substitute hotspot variables like a router: `$(name)` → value, unknown names → empty. */
export function renderHotspotPage(template: string, vars: Record<string, string>): string {
  return template.replace(/\$\(([a-z][a-z0-9-]*)\)/g, (_m, name: string) => vars[name] ?? '');
}

export async function startHotspotWeb(opts: HotspotWebOptions): Promise<HotspotWeb> {
  let files = opts.files;
  const useChap = opts.chap !== false;
  const challenges = new Map<string, { id: Buffer; challenge: Buffer }>();
  const logins: HotspotLoginRecord[] = [];
  let base = '';
  let visitors = 0;
  const hex2 = (n: number) => (n & 0xff).toString(16).toUpperCase().padStart(2, '0');

  const device = (q: URLSearchParams) => {
    const mac = (q.get('mac') ?? '').toUpperCase().replace(/-/g, ':');
    const ip = q.get('ip') ?? '';
    return { mac: MAC.test(mac) ? mac : '', ip: IPV4.test(ip) ? ip : '' };
  };

  /** The device is on the hotspot network: the router has a host entry for it. */
  const ensureHost = (mac: string, ip: string) => {
    if (!mac || !ip) return;
    const host = opts.state.hosts.rows.find((h) => h['mac-address'] === mac);
    if (host) Object.assign(host, { address: ip, 'to-address': ip });
    else opts.state.addHost({ 'mac-address': mac, address: ip });
  };

  const page = (res: ServerResponse, q: URLSearchParams, error = '', name = 'login.html') => {
    const template = files[name];
    if (template === undefined) return plain(res, 404, `${name} no está en el directorio del hotspot`);
    const { mac, ip } = device(q);
    ensureHost(mac, ip);
    let chap = { id: '', challenge: '' };
    if (useChap) {
      const c = { id: randomBytes(1), challenge: randomBytes(16) };
      challenges.set(mac, c);
      chap = { id: octal(c.id), challenge: octal(c.challenge) };
    }
    const dst = q.get('dst') || 'http://www.example.com/';
    const loginOnly = `${base}/login?${new URLSearchParams({ mac, ip }).toString()}`;
    const html = renderHotspotPage(String(template), {
      mac,
      ip,
      username: '',
      'link-login': `${loginOnly}&dst=${encodeURIComponent(dst)}`,
      'link-login-only': loginOnly,
      'link-orig': escapeHtml(dst),
      'link-orig-esc': encodeURIComponent(dst),
      'link-status': `${base}/status?${new URLSearchParams({ mac, ip }).toString()}`,
      error: escapeHtml(error),
      'chap-id': chap.id,
      'chap-challenge': chap.challenge,
      'server-name': 'hotspot1',
      identity: opts.state.identity,
    });
    res.writeHead(200, { 'content-type': TYPES.html, 'cache-control': 'no-cache' });
    res.end(html);
  };

  const login = (res: ServerResponse, q: URLSearchParams, form: URLSearchParams) => {
    const { mac, ip } = device(q);
    const username = form.get('username') ?? '';
    const given = form.get('password') ?? '';
    const user = opts.state.findUser(username);
    const c = challenges.get(mac);
    const method = useChap ? 'http-chap' : 'http-pap';
    const expected = user ? (useChap && c ? createHash('md5').update(Buffer.concat([c.id, Buffer.from(user.password ?? '', 'latin1'), c.challenge])).digest('hex') : (user.password ?? '')) : null;
    let error: string | null = null;
    if (!user || expected !== given) error = 'invalid username or password';
    else {
      const existing = opts.state.active.rows.find((s) => s.address === ip);
      if (existing && existing.user !== user.name) error = 'already logged in';
      else if (!existing) {
        try {
          opts.state.hotspotLogin({ user: user.name, password: user.password ?? '', 'mac-address': mac, ip });
          const session = opts.state.active.rows.find((s) => s.address === ip && s.user === user.name);
          if (session) session['login-by'] = method;
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
        }
      }
    }
    logins.push({ username, mac, ip, method, ok: error === null, error });
    if (error) return page(res, new URLSearchParams({ mac, ip, dst: form.get('dst') ?? '' }), error);
    challenges.delete(mac);
    const dst = form.get('dst') || '';
    res.writeHead(200, { 'content-type': TYPES.html, 'cache-control': 'no-cache' });
    res.end(statusPage(user!.name, ip, mac, dst));
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://hotspot');
      const path = url.pathname;
      if (req.method === 'POST' && path === '/login') return login(res, url.searchParams, new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      if (req.method !== 'GET') return plain(res, 405, 'método no permitido');
      // The login URL with the credentials in the query (what a printed voucher's QR opens): the hotspot
      // servlet takes `username`/`password` on /login by GET as by POST ("Hotspot customisation", Servlets:
      // https://help.mikrotik.com/docs/display/ROS/Hotspot+customisation).
      if (path === '/login' && url.searchParams.has('username')) return login(res, url.searchParams, url.searchParams);
      if (path === '/' || path === '/login' || path === '/login.html') {
        // A router always knows the device; here a visit without one becomes a new simulated device.
        if (!device(url.searchParams).mac) {
          const n = ++visitors;
          const dst = url.searchParams.get('dst');
          res.writeHead(302, { location: `/login?${new URLSearchParams({ mac: `02:00:00:00:${hex2(n >> 8)}:${hex2(n)}`, ip: `10.5.${50 + ((n >> 8) % 200)}.${(n % 250) + 2}`, ...(dst ? { dst } : {}) }).toString()}` });
          return res.end();
        }
        return page(res, url.searchParams);
      }
      if (path === '/status') {
        const { mac, ip } = device(url.searchParams);
        const s = opts.state.active.rows.find((r) => r.address === ip || (mac && r['mac-address'] === mac));
        res.writeHead(200, { 'content-type': TYPES.html });
        return res.end(s ? statusPage(s.user, s.address, s['mac-address'], '') : '<!doctype html><meta charset="utf-8"><p>Sin sesión activa.</p>');
      }
      const name = decodeURIComponent(path.slice(1));
      const body = files[name];
      if (body === undefined || name.includes('/')) return plain(res, 404, 'no encontrado');
      // A router substitutes its variables (a fresh CHAP challenge included) in every .html of the hotspot
      // directory, e.g. the kit's pagado.html.
      if (name.endsWith('.html')) return page(res, url.searchParams, '', name);
      // Only HTML files go through variable substitution on a router; everything else is sent as is.
      res.writeHead(200, { 'content-type': TYPES[name.split('.').pop() ?? ''] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
      res.end(body);
    });
  });
  const host = opts.host ?? '127.0.0.1';
  const { port, close } = await listenSandbox(server, host, opts.port ?? 0);
  base = `http://${host}:${port}`;

  return {
    url: base,
    // MAC colons left readable: the URL is printed for people.
    pageUrl: (d) => `${base}/login?${new URLSearchParams({ mac: d.mac, ip: d.ip, ...(d.dst ? { dst: d.dst } : {}) }).toString().replace(/%3A/g, ':')}`,
    setFiles(next) {
      files = next;
    },
    logins,
    close,
  };
}

function plain(res: ServerResponse, status: number, text: string) {
  res.writeHead(status, { 'content-type': TYPES.txt });
  res.end(text);
}

/** What the router shows after a successful login (its status page). */
function statusPage(user: string, ip: string, mac: string, dst: string): string {
  const link = dst ? `<p><a href="${escapeHtml(dst)}">Continuar a ${escapeHtml(dst)}</a></p>` : '';
  return `<!doctype html><html lang="es"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Conectado</title></head>
<body style="font-family:system-ui,sans-serif;padding:1.5rem;max-width:30rem;margin:auto">
<h1 id="conectado">Conectado a Internet</h1>
<p>Usuario: <b id="usuario">${escapeHtml(user)}</b></p>
<p>IP: ${escapeHtml(ip)} · MAC: ${escapeHtml(mac)}</p>
${link}</body></html>`;
}
