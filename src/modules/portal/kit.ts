/**
 * The captive-portal kit: the MikroTik hotspot files (login.html and its script and style) with the API
 * base URL, the router's key and the gateway tokenizer URLs written into login.html, plus a README with
 * the walled-garden entries. Pure functions: no database, no HTTP.
 *
 * The router rewrites every `$(...)` in HTML (and .txt) files and serves other files verbatim, so the
 * page's logic lives in a .js file and the configuration JSON never contains a `$`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { strToU8, zipSync } from 'fflate';

export type PortalGateway = 'auto' | 'conekta' | 'mercado_pago';
export const PORTAL_GATEWAYS: readonly PortalGateway[] = ['auto', 'conekta', 'mercado_pago'];

export interface PortalKitOptions {
  /** Public URL of this API, e.g. https://pagos.example.com (no trailing slash). */
  apiBase: string;
  apiKey: string;
  keyId: string;
  routerId: string;
  routerNombre: string;
  empresaNombre: string;
  gateway: PortalGateway;
  conektaJsUrl: string;
  mercadoPagoJsUrl: string;
  generatedAt: Date;
}

const ASSET_DIR = fileURLToPath(new URL('./assets/', import.meta.url));
const ASSET_NAMES = ['login.html', 'portal.js', 'portal.css'] as const;

let cachedAssets: Record<(typeof ASSET_NAMES)[number], string> | null = null;

/** The template files as shipped (read once). */
export function portalAssets(): Record<(typeof ASSET_NAMES)[number], string> {
  cachedAssets ??= Object.fromEntries(ASSET_NAMES.map((n) => [n, readFileSync(ASSET_DIR + n, 'utf8')])) as Record<(typeof ASSET_NAMES)[number], string>;
  return cachedAssets;
}

/**
 * JSON inside an inline script of a page the router rewrites: no `</script>`, and no `$` (the router would
 * take `$(...)` for one of its variables); both are written as JSON escapes, which read back the same.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value, null, 2)
    .replace(/</g, '\\u003c')
    .replace(/\$/g, '\\u0024')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const PRODUCTION_HOSTS: Record<'conekta' | 'mercado_pago', string[]> = {
  // Conekta.js is loaded from the CDN and creates card tokens on the API host.
  conekta: ['cdn.conekta.io', 'api.conekta.io', 'pay.conekta.com'],
  // (issue 13) The checkout page's Tokenizer component loads from pay.conekta.com and tokenizes on api.conekta.io
  // (https://developers.conekta.com/docs/web-tokenizer); 3-D Secure redirects go to the issuer (see README.txt).
  // The SDK loads its parts from mlstatic, tokenizes on the API host and fingerprints the device.
  mercado_pago: ['sdk.mercadopago.com', 'api.mercadopago.com', 'www.mercadopago.com', 'http2.mlstatic.com', 'api.mercadolibre.com'],
};

function hostOf(url: string): string | null {
  try {
    return new URL(url).hostname || null;
  } catch {
    return null;
  }
}

/** Hosts the router must let unauthenticated clients reach for the portal to sell. */
export function walledGardenHosts(opts: Pick<PortalKitOptions, 'apiBase' | 'gateway' | 'conektaJsUrl' | 'mercadoPagoJsUrl'>): string[] {
  const hosts: string[] = [];
  const add = (h: string | null) => {
    if (h && !hosts.includes(h)) hosts.push(h);
  };
  add(hostOf(opts.apiBase));
  if (opts.gateway !== 'mercado_pago') {
    add(hostOf(opts.conektaJsUrl));
    PRODUCTION_HOSTS.conekta.forEach(add);
  }
  if (opts.gateway !== 'conekta') {
    add(hostOf(opts.mercadoPagoJsUrl));
    PRODUCTION_HOSTS.mercado_pago.forEach(add);
  }
  return hosts;
}

function shortHash(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, 12);
}

export interface PortalFileNames {
  js: string;
  css: string;
}

/** Script and style names carry a hash of their content: a new version is a new file, never a stale cache. */
export function portalFileNames(): PortalFileNames {
  const assets = portalAssets();
  const v = shortHash(assets['portal.js'], assets['portal.css']);
  return { js: `portal-${v}.js`, css: `portal-${v}.css` };
}

/** The files of the kit, by name. */
export function buildPortalFiles(opts: PortalKitOptions): Record<string, string> {
  const assets = portalAssets();
  const names = portalFileNames();
  const config = {
    apiBase: opts.apiBase.replace(/\/+$/, ''),
    apiKey: opts.apiKey,
    routerId: opts.routerId,
    keyId: opts.keyId,
    gateway: opts.gateway,
    conektaJsUrl: opts.conektaJsUrl,
    mercadoPagoJsUrl: opts.mercadoPagoJsUrl,
    generatedAt: opts.generatedAt.toISOString(),
  };
  // Inline in login.html, which the router never lets a browser cache (a new key is seen at once).
  const loginHtml = assets['login.html']
    .replace('__PORTAL_CONFIG__', () => scriptJson(config))
    .replace('__PORTAL_CSS__', names.css)
    .replace('__PORTAL_JS__', names.js);
  return {
    'login.html': loginHtml,
    // Issue 13: back from the HTTPS checkout when the server could not log the device in. The same page
    // (the router substitutes its variables, fresh CHAP included, in every .html of the hotspot directory)
    // marked so that portal.js fetches the referencia's credentials and logs in.
    'pagado.html': loginHtml.replace('<body>', '<body data-pagina="pagado">').replace('<title>Internet WiFi</title>', '<title>Pago aprobado</title>'),
    [names.js]: assets['portal.js'],
    [names.css]: assets['portal.css'],
    'README.txt': kitReadme(opts, names),
    'pagos-hotspot.rsc': kitRouterScript(opts),
  };
}

export function kitReadme(opts: PortalKitOptions, names: PortalFileNames = portalFileNames()): string {
  const hosts = walledGardenHosts(opts);
  const api = new URL(opts.apiBase);
  const w = Math.max(names.js.length, names.css.length) + 2;
  const gatewayText = { auto: 'Conekta (o Mercado Pago si la empresa no tiene Conekta)', conekta: 'Conekta', mercado_pago: 'Mercado Pago' }[opts.gateway];
  const lines = [
    'PAGOS HOTSPOT - KIT DEL PORTAL CAUTIVO',
    '======================================',
    '',
    `Empresa: ${opts.empresaNombre}`,
    `Router:  ${opts.routerNombre} (${opts.routerId})`,
    `API:     ${opts.apiBase}`,
    `Pasarela: ${gatewayText}`,
    `Generado: ${opts.generatedAt.toISOString()}`,
    '',
    'IMPORTANTE: API KEY NUEVA',
    '-------------------------',
    `Este kit lleva una API key NUEVA para este router (${opts.keyId}), creada al descargarlo.`,
    'Las API keys anteriores del router quedaron REVOCADAS en ese momento: el portal que tenga instalado',
    'deja de vender hasta que suba estos archivos. Cada descarga del kit vuelve a cambiar la key.',
    '(El servicio guarda las keys solo como hash; por eso no puede volver a entregar una key existente.)',
    '',
    'ARCHIVOS',
    '--------',
    `  ${'login.html'.padEnd(w)}página de acceso (reemplaza la del router); lleva la URL de la API,`,
    `  ${''.padEnd(w)}la API key del router y la pasarela`,
    `  ${'pagado.html'.padEnd(w)}regreso del pago seguro: consulta la ficha y conecta el dispositivo`,
    `  ${'pagos-hotspot.rsc'.padEnd(w)}script de RouterOS: walled garden (por nombre y dirección) y bloqueo de QUIC`,
    `  ${names.js.padEnd(w)}lógica del portal (compra, conexión, reconexión)`,
    `  ${names.css.padEnd(w)}estilos`,
    '',
    'INSTALACIÓN',
    '-----------',
    '1. En Winbox/WebFig abra Files y localice la carpeta del hotspot (por ejemplo "hotspot" o',
    '   "flash/hotspot"; la indica /ip hotspot profile print, campo html-directory).',
    `2. Suba login.html, pagado.html, ${names.js} y ${names.css} a esa carpeta (reemplace login.html).`,
    '   Puede borrar los portal-*.js y portal-*.css de kits anteriores.',
    '3. En el perfil del servidor hotspot deje habilitado "Login by: HTTP CHAP" y/o "HTTP PAP"',
    '   (el portal entiende ambos).',
    '4. Agregue el walled garden de abajo para que los clientes, aún sin pagar, alcancen la API y la',
    '   pasarela de pago.',
    '5. El servicio necesita acceso a la API del router (/ip service api o api-ssl) para crear las fichas',
    '   y conectar al cliente automáticamente después de pagar.',
    '',
    'WALLED GARDEN (pegue en la terminal del router)',
    '-----------------------------------------------',
    '/ip hotspot walled-garden',
    ...hosts.map((h) => `add dst-host=${h} comment="Pagos Hotspot"`),
    '/ip hotspot walled-garden ip',
    ...hosts.map((h) => `add action=accept dst-host=${h} comment="Pagos Hotspot (HTTPS)"`),
    '',
    'Hosts incluidos:',
    ...hosts.map((h) => `  - ${h}`),
    '',
    'El archivo pagos-hotspot.rsc hace lo mismo y además agrega cada host por su dirección resuelta',
    '(walled-garden ip, necesario para HTTPS) y bloquea QUIC (UDP 443) a los clientes del hotspot:',
    '  /import pagos-hotspot.rsc',
    'Vuelva a ejecutarlo si cambian las direcciones de los hosts (CDN).',
  ];
  if (api.port) lines.push('', `Nota: la API usa el puerto ${api.port}; permítalo también si su walled garden filtra por puerto.`);
  lines.push(
    '',
    'FUNCIONAMIENTO',
    '--------------',
    '- Muestra el nombre y logo de la empresa y los planes activos de este router.',
    '- Al pagar, el cliente va a la página HTTPS del servicio (/pagar/...), donde la pasarela captura la',
    '  tarjeta en sus propios campos; login.html no tiene campos de tarjeta.',
    '- Al aprobarse, muestra usuario y contraseña y conecta el dispositivo; si la conexión automática no',
    '  es posible, usa el formulario de acceso del router.',
    '- Recuerda la ficha en el dispositivo para reconectarlo cuando vuelva (aunque cambie su MAC).',
    '- Si la entrega de la ficha queda pendiente, consulta el estado hasta que se active.',
    '',
  );
  return lines.join('\r\n');
}

/**
 * RouterOS script of the kit (issue 13): the walled garden by name (HTTP) and by resolved address
 * (`walled-garden ip`, which is what lets TLS through before login: the hotspot cannot read the host name of
 * an HTTPS request), and QUIC (UDP 443) blocked for hotspot clients so that browsers fall back to TLS over
 * TCP, which the walled garden matches. Import with `/import pagos-hotspot.rsc` after uploading it.
 */
export function kitRouterScript(opts: Pick<PortalKitOptions, 'apiBase' | 'gateway' | 'conektaJsUrl' | 'mercadoPagoJsUrl'>): string {
  const hosts = walledGardenHosts(opts);
  const list = hosts.map((h) => `"${h}"`).join(';');
  return [
    '# Pagos Hotspot: walled garden y bloqueo de QUIC. Suba este archivo y ejecute: /import pagos-hotspot.rsc',
    `:foreach h in={${list}} do={`,
    '  :do { /ip hotspot walled-garden add dst-host=$h comment="Pagos Hotspot" } on-error={}',
    '  :do { /ip hotspot walled-garden ip add action=accept dst-host=$h comment="Pagos Hotspot (TLS)" } on-error={}',
    '  :do {',
    '    :local a [:resolve $h]',
    '    /ip hotspot walled-garden ip add action=accept dst-address=$a protocol=tcp dst-port=443 comment=("Pagos Hotspot " . $h)',
    '  } on-error={ :log warning ("Pagos Hotspot: no se pudo resolver " . $h) }',
    '}',
    '# QUIC (HTTP/3 sobre UDP 443) no pasa por el walled garden: los navegadores vuelven a TLS sobre TCP.',
    '/ip firewall filter add chain=forward action=drop protocol=udp dst-port=443 hotspot=from-client comment="Pagos Hotspot: sin QUIC (UDP 443)"',
    '',
  ].join('\r\n');
}

/** The kit as a zip archive. */
export function buildKitZip(files: Record<string, string>, generatedAt: Date): Uint8Array {
  const entries: Record<string, [Uint8Array, { mtime: Date }]> = {};
  for (const [name, content] of Object.entries(files)) entries[name] = [strToU8(content), { mtime: generatedAt }];
  return zipSync(entries, { level: 9 });
}
