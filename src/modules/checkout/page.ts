/**
 * The checkout page's HTML and its Content-Security-Policy. No inline script or handler anywhere: the
 * page's data travels in data- attributes (HTML-escaped), our script is /pagar/assets/checkout.js, the
 * gateway's script is the configured URL (real SDK in production, the sandbox stand-in in the demo), and
 * the card fields live in the gateway's own iframe. frame-ancestors 'none': nobody frames our page.
 */

export const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/**
 * Extra origins the real SDKs use besides their script's origin (only added when the configured script
 * is the real one). Mercado Pago: SDK JS v2 loads from sdk.mercadopago.com, talks to api.mercadopago.com
 * and draws assets from http2.mlstatic.com (https://www.mercadopago.com.mx/developers/en/docs/checkout-bricks/common-initialization).
 * Conekta: the Tokenizer component iframe and its API (https://developers.conekta.com/docs/web-tokenizer).
 */
const REAL_EXTRAS: Record<string, string[]> = {
  'https://sdk.mercadopago.com': ['https://api.mercadopago.com', 'https://http2.mlstatic.com', 'https://api.mercadolibre.com'],
  'https://pay.conekta.com': ['https://api.conekta.io', 'https://assets.conekta.com'],
};

export function gatewayOrigins(scriptUrl: string): string[] {
  const origin = new URL(scriptUrl).origin;
  return [origin, ...(REAL_EXTRAS[origin] ?? [])];
}

/**
 * The policy of every document we serve under /pagar (the page, its notice, its errors). `challenge`: where a
 * 3-D Secure challenge may be framed and its `creq` posted (Mercado Pago: the issuer's ACS, on hosts nobody
 * can list in advance, so any https origin; scripts stay ours and the gateway's only).
 */
export function checkoutCsp(gateway: string[], challenge: string[] = []): string {
  const g = gateway.join(' ');
  const c = challenge.length > 0 ? ` ${challenge.join(' ')}` : '';
  return [
    `default-src 'none'`,
    `script-src 'self' ${g}`,
    `frame-src ${g}${c}`,
    `connect-src 'self' ${g}`,
    `img-src 'self' data: ${g}`,
    // The real Brick sets inline styles on its own elements; scripts stay strict.
    `style-src 'self' 'unsafe-inline' ${g}`,
    `font-src 'self' ${g}`,
    `form-action 'self' ${g}${c}`,
    `base-uri 'none'`,
    `frame-ancestors 'none'`,
  ].join('; ');
}

/** A document with no gateway at all (privacy notice, errors). */
export const PLAIN_CSP = `default-src 'none'; img-src 'self'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

export interface PageData {
  sesion: string;
  empresa: string;
  logoUrl: string | null;
  router: string;
  plan: string;
  precio: string;
  monto: number;
  moneda: string;
  duracion: string | null;
  pasarela: 'conekta' | 'mercado_pago';
  publicKey: string;
  email: string;
  nombre: string;
  gatewayScript: string;
  expiraEn: string;
  /** The path of PUBLIC_BASE_URL ('' at the root, '/pagos' behind a path-prefixed proxy): every link of ours starts with it. */
  base: string;
}

/** The path part of PUBLIC_BASE_URL without its trailing slash ('' for a root URL or an unusable one). */
export function basePath(publicBaseUrl: string): string {
  try {
    return new URL(publicBaseUrl).pathname.replace(/\/+$/, '');
  } catch {
    return '';
  }
}

function layout(title: string, body: string, base: string, head = ''): string {
  return `<!doctype html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(title)}</title>
<link rel="stylesheet" href="${esc(base)}/pagar/assets/checkout.css">
${head}
</head>
<body>
${body}
</body>
</html>
`;
}

export function checkoutPage(d: PageData): string {
  const logo = d.logoUrl ? `<img class="logo" src="${esc(d.logoUrl)}" alt="">` : '';
  const gatewayName = d.pasarela === 'conekta' ? 'Conekta' : 'Mercado Pago';
  return layout(
    `Pagar ${d.plan} — ${d.empresa}`,
    `<main id="checkout" data-sesion="${esc(d.sesion)}" data-pasarela="${d.pasarela}" data-public-key="${esc(d.publicKey)}"
  data-monto="${d.monto}" data-moneda="${esc(d.moneda)}" data-email="${esc(d.email)}" data-expira="${esc(d.expiraEn)}" data-base="${esc(d.base)}">
  <header class="marca">${logo}<div><h1>${esc(d.empresa)}</h1><p class="router">${esc(d.router)}</p></div></header>
  <section class="plan" aria-label="Plan elegido">
    <p class="plan-nombre">${esc(d.plan)}</p>
    ${d.duracion ? `<p class="plan-duracion">${esc(d.duracion)}</p>` : ''}
    <p class="plan-precio">${esc(d.precio)}</p>
  </section>
  <section id="pago" aria-label="Pago con tarjeta">
    <p class="aviso">Antes de pagar, lee el <a id="aviso-link" href="${esc(d.base)}/pagar/${esc(d.sesion)}/aviso-de-privacidad" target="_blank" rel="noopener">aviso de privacidad</a> de ${esc(d.empresa)}: usamos tu nombre, correo y teléfono solo para entregarte tu ficha y tu comprobante.</p>
    <p class="seguro">Los datos de tu tarjeta se capturan en el formulario seguro de ${gatewayName}; ${esc(d.empresa)} nunca los ve.</p>
    <div id="card-fields" class="card-fields"></div>
  </section>
  <section id="autenticacion" hidden aria-label="Verificación de tu banco">
    <h2>Tu banco pide confirmar el pago</h2>
    <p class="seguro">Es la verificación 3-D Secure de tu tarjeta. Tienes unos minutos; si no la terminas, no se hace ningún cargo.</p>
    <p id="paso-wifi" class="aviso-wifi" hidden>No pudimos abrir el acceso a la página de tu banco desde este WiFi. Si no carga, paga con otra tarjeta o vuelve a intentarlo más tarde.</p>
    <div id="reto" class="reto"></div>
  </section>
  <div id="estado" class="estado" role="status" aria-live="polite"></div>
  <section id="listo" class="listo" hidden aria-label="Tu ficha">
    <h2>¡Pago aprobado!</h2>
    <p>Tu ficha:</p>
    <dl><dt>Usuario</dt><dd id="usuario"></dd><dt id="contrasena-t">Contraseña</dt><dd id="contrasena"></dd></dl>
    <p id="conexion"></p>
    <a id="conectar" class="boton" hidden>Conectarme a Internet</a>
    <p class="referencia">Referencia: <span id="referencia"></span></p>
  </section>
</main>`,
    d.base,
    `<script src="${esc(d.gatewayScript)}"></script>\n<script src="${esc(d.base)}/pagar/assets/checkout.js" defer></script>`,
  );
}

export function noticePage(empresa: string, text: string, base = ''): string {
  const paragraphs = text
    .split(/\n{2,}/)
    .map((p) => `<p>${esc(p.trim()).replace(/\n/g, '<br>')}</p>`)
    .join('\n');
  return layout(`Aviso de privacidad — ${empresa}`, `<main class="aviso-doc"><h1>Aviso de privacidad</h1><h2>${esc(empresa)}</h2>${paragraphs}</main>`, base);
}

export function errorPage(title: string, message: string, base = ''): string {
  return layout(title, `<main class="error"><h1>${esc(title)}</h1><p>${esc(message)}</p><p>Vuelve a la página del WiFi y elige tu ficha otra vez.</p></main>`, base);
}

/** The default notice (Ley Federal de Protección de Datos Personales en Posesión de los Particulares). */
export function defaultNotice(empresa: string): string {
  return `${empresa} es responsable del tratamiento de los datos personales que nos proporcionas al comprar una ficha de acceso WiFi: nombre, correo electrónico y, si lo das, teléfono.

Los usamos únicamente para procesar tu pago, entregarte tu ficha, enviarte tu comprobante y atender aclaraciones o reembolsos. No los vendemos ni los compartimos con terceros, salvo con la pasarela de pago (Conekta o Mercado Pago) que procesa el cobro y las autoridades que lo requieran por ley.

Los datos de tu tarjeta los captura directamente la pasarela de pago en su propio formulario; ${empresa} no los recibe ni los almacena.

Puedes ejercer tus derechos de acceso, rectificación, cancelación u oposición (ARCO) escribiendo al correo de contacto de ${empresa}.`;
}
