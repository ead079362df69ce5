/**
 * CORS for the captive-portal endpoints. The portal page is served by each router from its own hotspot
 * address (http://10.5.50.1, a hotspot DNS name, ...), so no fixed origin list can cover it. These
 * endpoints authenticate with the router key sent in a header (never a cookie), which the page embeds
 * anyway, so allowing any origin without credentials gives a foreign page nothing it does not already
 * have. Every other endpoint keeps BACKEND_CORS_ORIGINS.
 */
const PORTAL_PATHS = [
  /^\/api\/v1\/config\/public(?:[/?]|$)/,
  /^\/api\/v1\/catalogo_perfiles_venta(?:[/?]|$)/,
  /^\/api\/v1\/payments\/(?:pagar-conekta|pagar-mercado-pago|estado-pago\/|transacciones\/)/,
  /^\/api\/v1\/hotspot\//,
  // The router page creates checkout sessions (issue 13); the checkout page itself is same-origin.
  /^\/api\/v1\/checkout\/sesiones$/,
  /^\/api\/v1\/routers\/validar-empresa-router(?:[/?]|$)/,
];

export function isPortalApiPath(url: string): boolean {
  return PORTAL_PATHS.some((re) => re.test(url));
}

export const PORTAL_CORS = {
  origin: true,
  credentials: false,
  methods: ['GET', 'POST', 'OPTIONS'],
  maxAge: 600,
} as const;
