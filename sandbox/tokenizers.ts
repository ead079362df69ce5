/**
 * Sandbox stand-ins for the gateways' browser tokenizers, served over HTTP for the demo and the browser
 * tests: a Conekta.js with the API the portal uses (`Conekta.setPublicKey`, `Conekta.Token.create(params,
 * ok, err)`) and a Mercado Pago SDK v2 subset (`new MercadoPago(key)`, `getPaymentMethods({bin})`,
 * `createCardToken({...})`).
 *
 * The fake gateways (conekta.ts, mercadopago.ts) script a charge's outcome by the card token, so these
 * tokenizers turn the gateways' documented test cards into such tokens, with a random suffix because
 * tokens are single-use. The suffix is hex, so it can never spell a decline code the services map.
 *
 *   Conekta test cards                          Mercado Pago (cardholder name, as MP's test users)
 *   4242 4242 4242 4242 / 5555 5555 5555 4444   APRO  approved (any other name too)
 *     → paid                                    OTHE  rejected, cc_rejected_other_reason
 *   4000 0000 0000 0002 → card_declined         FUND  rejected, cc_rejected_insufficient_amount
 *   4000 0000 0000 0127 → insufficient_funds    SECU  rejected, cc_rejected_bad_filled_security_code
 *   4000 0000 0000 0069 → expired_card          CONT  pending, pending_contingency
 *   any other valid number → paid
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenSandbox } from './http.js';
import { checkoutSdkRoutes } from './checkout-sdks.js';

export const SANDBOX_CARDS = {
  approved: '4242424242424242',
  approvedMastercard: '5555555555554444',
  declined: '4000000000000002',
  insufficientFunds: '4000000000000127',
  expired: '4000000000000069',
  /** The issuer asks for a 3-D Secure challenge (checkout page only: sandbox/checkout-sdks.ts). */
  threeDsChallenge: '4000000000003220',
} as const;

/** Source of the sandbox Conekta.js (browser script, ES5). */
export function conektaJsSource(): string {
  return `/* Conekta.js de sandbox (Pagos Hotspot): tokeniza las tarjetas de prueba sin red. */
(function () {
  var publicKey = null;
  var DECLINES = { '4000000000000002': 'card_declined', '4000000000000127': 'insufficient_funds', '4000000000000069': 'expired_card' };
  function hex(n) { var s = ''; while (s.length < n) s += Math.floor(Math.random() * 16).toString(16); return s; }
  function luhn(num) { var sum = 0, dbl = false; for (var i = num.length - 1; i >= 0; i--) { var d = num.charCodeAt(i) - 48; if (dbl) { d *= 2; if (d > 9) d -= 9; } sum += d; dbl = !dbl; } return sum % 10 === 0; }
  function fail(cb, param, msg, toPurchaser) {
    setTimeout(function () { cb({ object: 'error', type: 'parameter_validation_error', message: msg, message_to_purchaser: toPurchaser, param: param }); }, 30);
  }
  function fromForm(form) {
    var card = {};
    var inputs = form.querySelectorAll('[data-conekta]');
    for (var i = 0; i < inputs.length; i++) {
      var m = /^card\\[(\\w+)\\]$/.exec(inputs[i].getAttribute('data-conekta'));
      if (m) card[m[1]] = inputs[i].value;
    }
    return { card: card };
  }
  window.Conekta = {
    setPublicKey: function (k) { publicKey = k; },
    getPublicKey: function () { return publicKey; },
    setLanguage: function () {},
    getLanguage: function () { return 'es'; },
    Token: {
      create: function (params, ok, err) {
        if (params && params.nodeType === 1) params = fromForm(params);
        var card = (params && params.card) || {};
        if (!publicKey || !/^key_/.test(publicKey)) return fail(err, null, 'Missing or invalid public key', 'Error de configuración del comercio.');
        var number = String(card.number || '').replace(/\\D/g, '');
        if (number.length < 13 || !luhn(number)) return fail(err, 'card[number]', 'The card number is invalid.', 'El número de tarjeta es inválido.');
        var month = Number(card.exp_month), year = Number(card.exp_year);
        if (year < 100) year += 2000;
        var now = new Date();
        if (!(month >= 1 && month <= 12) || year < now.getFullYear() || (year === now.getFullYear() && month < now.getMonth() + 1)) {
          return fail(err, 'card[exp_month]', 'The card expiration date is invalid.', 'La fecha de expiración de la tarjeta es inválida.');
        }
        if (!/^\\d{3,4}$/.test(String(card.cvc || ''))) return fail(err, 'card[cvc]', 'The CVC is invalid.', 'El código de seguridad (CVC) es inválido.');
        if (!String(card.name || '').trim()) return fail(err, 'card[name]', 'The cardholder name is missing.', 'El nombre del tarjetahabiente es inválido.');
        var code = DECLINES[number];
        var id = code ? 'tok_test_decline_' + code + '_' + hex(12) : 'tok_test_visa_4242_' + hex(12);
        setTimeout(function () { ok({ id: id, object: 'token', used: false, livemode: false }); }, 30);
      }
    }
  };
})();
`;
}

/** Source of the sandbox Mercado Pago SDK subset (browser script, ES5). */
export function mercadoPagoJsSource(): string {
  return `/* Mercado Pago SDK v2 de sandbox (Pagos Hotspot): tokeniza tarjetas de prueba sin red. */
(function () {
  var OUTCOMES = { OTHE: 'rej_cc_rejected_other_reason', FUND: 'rej_cc_rejected_insufficient_amount', SECU: 'rej_cc_rejected_bad_filled_security_code', CONT: 'pend_pending_contingency' };
  function hex(n) { var s = ''; while (s.length < n) s += Math.floor(Math.random() * 16).toString(16); return s; }
  function brand(bin) {
    if (/^4/.test(bin)) return { id: 'visa', payment_type_id: 'credit_card', issuer: { id: 1, name: 'Visa' } };
    if (/^(5[1-5]|2[2-7])/.test(bin)) return { id: 'master', payment_type_id: 'credit_card', issuer: { id: 2, name: 'Mastercard' } };
    if (/^3[47]/.test(bin)) return { id: 'amex', payment_type_id: 'credit_card', issuer: { id: 3, name: 'American Express' } };
    return null;
  }
  window.MercadoPago = function (publicKey) {
    if (!publicKey) throw new Error('MercadoPago.js - Public key is required');
    this.getPaymentMethods = function (opts) {
      var m = brand(String((opts && opts.bin) || ''));
      return Promise.resolve({ paging: { total: m ? 1 : 0 }, results: m ? [m] : [] });
    };
    this.createCardToken = function (c) {
      var number = String(c.cardNumber || '').replace(/\\D/g, '');
      var causes = [];
      if (number.length < 13) causes.push({ code: 'E301', message: 'Invalid card number' });
      if (!/^\\d{3,4}$/.test(String(c.securityCode || ''))) causes.push({ code: 'E302', message: 'Invalid security code' });
      if (!(Number(c.cardExpirationMonth) >= 1 && Number(c.cardExpirationMonth) <= 12)) causes.push({ code: '325', message: 'Invalid expiration month' });
      if (!c.cardholderName) causes.push({ code: '221', message: 'Cardholder name is required' });
      if (causes.length) return Promise.reject(causes);
      var outcome = OUTCOMES[String(c.cardholderName).trim().toUpperCase()];
      var id = outcome ? outcome + '_' + hex(12) : 'apro_' + hex(24);
      return Promise.resolve({ id: id, public_key: publicKey, card_id: null, status: 'active', first_six_digits: number.slice(0, 6), last_four_digits: number.slice(-4), expiration_month: Number(c.cardExpirationMonth), expiration_year: Number(c.cardExpirationYear), cardholder: { name: c.cardholderName } });
    };
  };
})();
`;
}

export interface TokenizerServer {
  url: string;
  conektaJsUrl: string;
  mercadoPagoJsUrl: string;
  /** Stand-ins for the checkout page: Conekta's Tokenizer component and Mercado Pago's Card Payment Brick (checkout-sdks.ts). */
  checkoutConektaJsUrl: string;
  checkoutMercadoPagoJsUrl: string;
  close(): Promise<void>;
}

/** Serve both scripts (`/conekta.js`, `/mercadopago.js`) on a local port (0: any free port). */
export async function startTokenizerServer(opts: { host?: string; port?: number } = {}): Promise<TokenizerServer> {
  const scripts: Record<string, string> = { '/conekta.js': conektaJsSource(), '/mercadopago.js': mercadoPagoJsSource() };
  const checkout = checkoutSdkRoutes();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const page = checkout[path];
    if (req.method === 'GET' && page) {
      res.writeHead(200, { 'content-type': page[0], 'cache-control': 'no-cache' });
      res.end(page[1]);
      return;
    }
    const body = scripts[path];
    if (req.method !== 'GET' || body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('no encontrado');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/javascript; charset=utf-8', 'cache-control': 'no-cache', 'access-control-allow-origin': '*' });
    res.end(body);
  });
  const host = opts.host ?? '127.0.0.1';
  const { port, close } = await listenSandbox(server, host, opts.port ?? 0);
  const url = `http://${host}:${port}`;
  return {
    url,
    conektaJsUrl: `${url}/conekta.js`,
    mercadoPagoJsUrl: `${url}/mercadopago.js`,
    checkoutConektaJsUrl: `${url}/checkout/conekta-checkout.min.js`,
    checkoutMercadoPagoJsUrl: `${url}/checkout/mercadopago-v2.js`,
    close,
  };
}
