/**
 * Sandbox stand-ins for the gateways' own card fields on our checkout page (issue 13), served by the
 * tokenizer server on ITS origin, so that in the demo and the browser tests the card inputs live in a frame
 * of another origin exactly as with the real SDKs. Only the script URL differs from production.
 *
 * Same JavaScript API as the real SDKs, as their public documentation shows:
 * - Mercado Pago SDK JS v2, Card Payment Brick
 *   (https://www.mercadopago.com.mx/developers/en/docs/checkout-bricks/card-payment-brick/default-rendering,
 *   types: https://github.com/mercadopago/sdk-js/blob/main/docs/bricks/card-payment.md):
 *   `new MercadoPago(publicKey, { locale })`, `mp.bricks().create('cardPayment', containerId, { initialization:
 *   { amount, payer: { email } }, callbacks: { onReady, onSubmit(formData) → Promise, onError } })` → Promise of
 *   a controller with `unmount()`; formData = `{ token, issuer_id, payment_method_id, transaction_amount,
 *   installments, payer: { email, identification: { type, number } } }`.
 * - Conekta Tokenizer component (https://developers.conekta.com/docs/web-tokenizer):
 *   `window.ConektaCheckoutComponents.Card({ config: { targetIFrame, publicKey, locale }, callbacks:
 *   { onCreateTokenSucceeded(token), onCreateTokenError(error), onGetInfoSuccess(info) }, allowTokenization })`;
 *   token = `{ id: 'tok_…', livemode, used, object: 'token' }`.
 *
 * Outcomes are scripted by the test cards the fakes know (see tokenizers.ts): Conekta by card number,
 * Mercado Pago by cardholder name (APRO, OTHE, FUND, SECU, CONT); for both, 4000 0000 0000 3220 is a card whose
 * issuer asks for a 3-D Secure challenge.
 */

/** The sandbox's 3-D Secure test card (both gateways): the issuer asks for a challenge. */
export const THREE_DS_CARD = '4000000000003220';

const CONEKTA_DECLINES = `{ '4000000000000002': 'card_declined', '4000000000000127': 'insufficient_funds', '4000000000000069': 'expired_card' }`;

/** The SDK script our page loads (parent side): mounts the frame, relays its messages to the callbacks. */
function parentSdk(kind: 'conekta' | 'mercadopago'): string {
  const common = `
  var script = document.currentScript;
  var ORIGIN = new URL(script.src).origin;
  function frame(container, path, params) {
    var el = typeof container === 'string' ? document.querySelector(container.charAt(0) === '#' ? container : '#' + container) : container;
    if (!el) throw new Error('container not found: ' + container);
    var q = Object.keys(params).map(function (k) { return encodeURIComponent(k) + '=' + encodeURIComponent(params[k]); }).join('&');
    var f = document.createElement('iframe');
    f.src = ORIGIN + path + '?' + q + '&parent=' + encodeURIComponent(location.origin);
    f.title = 'Formulario de tarjeta';
    f.setAttribute('allow', 'payment');
    f.style.width = '100%';
    f.style.minHeight = '330px';
    f.style.border = '0';
    el.innerHTML = '';
    el.appendChild(f);
    return f;
  }
  function listen(f, on) {
    window.addEventListener('message', function (ev) {
      if (ev.origin !== ORIGIN || ev.source !== f.contentWindow || !ev.data || typeof ev.data.type !== 'string') return;
      on(ev.data);
    });
  }`;
  if (kind === 'conekta') {
    return `/* Conekta Tokenizer de sandbox (Pagos Hotspot). */
(function () {${common}
  window.ConektaCheckoutComponents = {
    Card: function (opts) {
      var config = (opts && opts.config) || {}, cb = (opts && opts.callbacks) || {};
      if (!config.publicKey) throw new Error('publicKey is required');
      var started = Date.now();
      var f = frame(config.targetIFrame, '/checkout/conekta-frame.html', { key: config.publicKey, locale: config.locale || 'es' });
      listen(f, function (m) {
        if (m.type === 'conekta:ready' && cb.onGetInfoSuccess) cb.onGetInfoSuccess({ initialLoadTime: Date.now() - started });
        if (m.type === 'conekta:token' && cb.onCreateTokenSucceeded) cb.onCreateTokenSucceeded(m.token);
        if (m.type === 'conekta:error' && cb.onCreateTokenError) cb.onCreateTokenError(m.error);
      });
    }
  };
})();
`;
  }
  return `/* Mercado Pago SDK JS v2 de sandbox (Pagos Hotspot): Card Payment Brick. */
(function () {${common}
  window.MercadoPago = function (publicKey, options) {
    if (!publicKey) throw new Error('MercadoPago.js - Public key is required');
    this.bricks = function () {
      return {
        create: function (name, containerId, settings) {
          if (name !== 'cardPayment') return Promise.reject(new Error('Brick no disponible en el sandbox: ' + name));
          var init = (settings && settings.initialization) || {}, cb = (settings && settings.callbacks) || {};
          if (!(Number(init.amount) > 0)) return Promise.reject(new Error('initialization.amount is required'));
          var f = frame(containerId, '/checkout/mp-brick.html', { key: publicKey, amount: String(init.amount), email: (init.payer && init.payer.email) || '' });
          listen(f, function (m) {
            if (m.type === 'mp:ready' && cb.onReady) cb.onReady();
            if (m.type === 'mp:error' && cb.onError) cb.onError(m.error);
            if (m.type === 'mp:submit' && cb.onSubmit) {
              Promise.resolve(cb.onSubmit(m.formData)).then(function () { f.contentWindow.postMessage({ type: 'mp:done' }, ORIGIN); }, function () { f.contentWindow.postMessage({ type: 'mp:failed' }, ORIGIN); });
            }
          });
          return Promise.resolve({ unmount: function () { f.remove(); } });
        }
      };
    };
  };
})();
`;
}

const FRAME_CSS = `*{box-sizing:border-box}body{margin:0;padding:8px;font:16px system-ui,sans-serif;color:#222;background:#fff}
label{display:block;font-size:13px;color:#555;margin:8px 0 3px}input{width:100%;font-size:16px;padding:10px;border:1px solid #bbb;border-radius:8px}
.row{display:flex;gap:8px}.row>div{flex:1}button{margin-top:14px;width:100%;padding:13px;font-size:17px;font-weight:700;border:0;border-radius:10px;color:#fff;cursor:pointer}
.err{color:#b00020;font-size:13px;min-height:1em;margin-top:6px}.brand{font-size:12px;color:#777;text-align:right;margin-top:6px}`;

function framePage(kind: 'conekta' | 'mercadopago'): string {
  const color = kind === 'conekta' ? '#2f3d7c' : '#009ee3';
  const label = kind === 'conekta' ? 'Conekta (sandbox)' : 'Mercado Pago (sandbox)';
  return `<!doctype html><html lang="es"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<style>${FRAME_CSS}button{background:${color}}</style></head><body>
<form id="f" autocomplete="on" novalidate>
<label for="number">Número de tarjeta</label><input id="number" inputmode="numeric" autocomplete="cc-number" placeholder="1234 1234 1234 1234">
<div class="row"><div><label for="exp">Vencimiento</label><input id="exp" inputmode="numeric" autocomplete="cc-exp" placeholder="MM/AA"></div>
<div><label for="cvc">Código de seguridad</label><input id="cvc" inputmode="numeric" autocomplete="cc-csc" placeholder="123"></div></div>
<label for="name">Nombre del titular</label><input id="name" autocomplete="cc-name" placeholder="Como aparece en la tarjeta">
<button id="pay" type="submit">Pagar</button><div class="err" id="err" role="alert"></div><div class="brand">${label}</div>
</form><script src="/checkout/${kind}-frame.js"></script></body></html>`;
}

function frameScript(kind: 'conekta' | 'mercadopago'): string {
  return `(function () {
  var q = new URLSearchParams(location.search);
  var parentOrigin = q.get('parent');
  function post(m) { parent.postMessage(m, parentOrigin); }
  function hex(n) { var s = ''; while (s.length < n) s += Math.floor(Math.random() * 16).toString(16); return s; }
  function luhn(num) { var sum = 0, dbl = false; for (var i = num.length - 1; i >= 0; i--) { var d = num.charCodeAt(i) - 48; if (dbl) { d *= 2; if (d > 9) d -= 9; } sum += d; dbl = !dbl; } return sum % 10 === 0; }
  var err = document.getElementById('err'), btn = document.getElementById('pay');
  function read() {
    var number = document.getElementById('number').value.replace(/\\D/g, '');
    var exp = document.getElementById('exp').value.replace(/\\s/g, '').split('/');
    var month = Number(exp[0]), year = Number(exp[1]); if (year < 100) year += 2000;
    var cvc = document.getElementById('cvc').value.trim(), name = document.getElementById('name').value.trim();
    var now = new Date();
    if (number.length < 13 || !luhn(number)) return { error: 'El número de tarjeta es inválido.' };
    if (!(month >= 1 && month <= 12) || year < now.getFullYear() || (year === now.getFullYear() && month < now.getMonth() + 1)) return { error: 'La fecha de vencimiento es inválida.' };
    if (!/^\\d{3,4}$/.test(cvc)) return { error: 'El código de seguridad es inválido.' };
    if (!name) return { error: 'Escribe el nombre del titular.' };
    return { number: number, month: month, year: year, name: name };
  }
  ${
    kind === 'conekta'
      ? `var DECLINES = ${CONEKTA_DECLINES};
  document.getElementById('f').addEventListener('submit', function (e) {
    e.preventDefault();
    var c = read();
    if (c.error) { err.textContent = c.error; return post({ type: 'conekta:error', error: { object: 'error', type: 'parameter_validation_error', message_to_purchaser: c.error } }); }
    if (!/^key_/.test(q.get('key') || '')) return post({ type: 'conekta:error', error: { object: 'error', message_to_purchaser: 'Error de configuración del comercio.' } });
    err.textContent = ''; btn.disabled = true; btn.textContent = 'Procesando…';
    var code = DECLINES[c.number];
    var id = code ? 'tok_test_decline_' + code + '_' + hex(12) : c.number === '${THREE_DS_CARD}' ? 'tok_test_3ds_challenge_' + hex(12) : 'tok_test_visa_4242_' + hex(12);
    setTimeout(function () { post({ type: 'conekta:token', token: { id: id, livemode: false, used: false, object: 'token' } }); btn.disabled = false; btn.textContent = 'Pagar'; }, 30);
  });
  post({ type: 'conekta:ready' });`
      : `var OUTCOMES = { OTHE: 'rej_cc_rejected_other_reason', FUND: 'rej_cc_rejected_insufficient_amount', SECU: 'rej_cc_rejected_bad_filled_security_code', CONT: 'pend_pending_contingency' };
  document.getElementById('f').addEventListener('submit', function (e) {
    e.preventDefault();
    var c = read();
    if (c.error) { err.textContent = c.error; return post({ type: 'mp:error', error: { type: 'non_critical', cause: 'invalid_card', message: c.error } }); }
    err.textContent = ''; btn.disabled = true; btn.textContent = 'Procesando…';
    var outcome = c.number === '${THREE_DS_CARD}' ? '3ds_challenge' : OUTCOMES[c.name.toUpperCase()];
    var pm = /^4/.test(c.number) ? 'visa' : /^(5[1-5]|2[2-7])/.test(c.number) ? 'master' : 'amex';
    post({ type: 'mp:submit', formData: {
      token: (outcome || 'apro') + '~' + hex(24), issuer_id: pm === 'visa' ? '1' : '2', payment_method_id: pm,
      transaction_amount: Number(q.get('amount')), installments: 1,
      payer: { email: q.get('email') || '', identification: { type: 'RFC', number: 'XAXX010101000' } } } });
  });
  window.addEventListener('message', function (ev) {
    if (ev.origin !== parentOrigin || !ev.data) return;
    if (ev.data.type === 'mp:done' || ev.data.type === 'mp:failed') { btn.disabled = false; btn.textContent = 'Pagar'; }
  });
  post({ type: 'mp:ready' });`
  }
})();
`;
}

/** Paths → [content type, body] the tokenizer server adds. */
export function checkoutSdkRoutes(): Record<string, [string, string]> {
  const js = 'application/javascript; charset=utf-8';
  const html = 'text/html; charset=utf-8';
  return {
    '/checkout/conekta-checkout.min.js': [js, parentSdk('conekta')],
    '/checkout/mercadopago-v2.js': [js, parentSdk('mercadopago')],
    '/checkout/conekta-frame.html': [html, framePage('conekta')],
    '/checkout/conekta-frame.js': [js, frameScript('conekta')],
    '/checkout/mp-brick.html': [html, framePage('mercadopago')],
    '/checkout/mercadopago-frame.js': [js, frameScript('mercadopago')],
  };
}
