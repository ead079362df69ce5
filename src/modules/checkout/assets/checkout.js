/* Página de pago (Pagos Hotspot). Sin datos de tarjeta aquí: los campos son de la pasarela, en su iframe. */
/* global window, document, crypto */
(function () {
  'use strict';
  var root = document.getElementById('checkout');
  if (!root) return;
  var d = root.dataset;
  var sesion = d.sesion;
  // PUBLIC_BASE_URL may carry a path (a proxy at https://host/pagos): every call of ours starts with it.
  var api = (d.base || '') + '/api/v1/checkout/sesiones/' + encodeURIComponent(sesion);
  var estadoEl = document.getElementById('estado');
  var pagando = false;
  // One key per payment attempt of this page: a retry of the same request is answered, never charged again.
  var idemKey = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);

  function say(text, kind) {
    estadoEl.textContent = text;
    estadoEl.className = 'estado' + (kind ? ' ' + kind : '');
  }

  function showVoucher(body) {
    var u = body.usuario_hotspot || {};
    document.getElementById('pago').hidden = true;
    document.getElementById('autenticacion').hidden = true;
    document.getElementById('usuario').textContent = u.usuario || '';
    var pin = !u.contrasena;
    document.getElementById('contrasena').textContent = u.contrasena || '';
    document.getElementById('contrasena').hidden = pin;
    document.getElementById('contrasena-t').hidden = pin;
    document.getElementById('referencia').textContent = body.referencia || '';
    var auto = body.auto_conexion || body.autoConexion || conexion || null;
    var online = !!(auto && (auto.conectado === true || auto.estado === 'conectado'));
    document.getElementById('conexion').textContent = online
      ? 'Tu dispositivo ya está conectado. ¡Disfruta tu Internet!'
      : 'Ahora te conectamos desde la página del WiFi con esta ficha…';
    document.getElementById('listo').hidden = false;
    say('', '');
    backToRouter(body.pagado_url, !online);
  }

  /** The server could not log the device in: the router's own pagado.html does (fresh CHAP), by a plain link. */
  function backToRouter(url, automatic) {
    var go = function (u) {
      if (!/^https?:\/\//.test(String(u || ''))) {
        document.getElementById('conexion').textContent = 'Para conectarte, vuelve a la página del WiFi y escribe tu ficha.';
        return;
      }
      var a = document.getElementById('conectar');
      a.href = automatic ? u : u + '&conectado=1';
      a.hidden = false;
      if (automatic) setTimeout(function () { window.location.assign(u); }, 2500);
      else a.textContent = 'Continuar (guardar mi ficha en este dispositivo)';
    };
    if (url) return go(url);
    fetch(api + '/estado', { headers: { accept: 'application/json' } })
      .then(function (r) { return r.json(); })
      .then(function (b) { go(b.pagado_url); }, function () { go(null); });
  }

  var retoAbierto = false;

  /** Ask the server to read the bank's verdict from the gateway (never taken from this browser), then poll. */
  var conexion = null;
  function backFromBank() {
    return fetch(api + '/autenticacion', { method: 'POST', headers: { accept: 'application/json' } })
      .then(function (r) { return r.json(); })
      .then(function (b) { if (b && b.auto_conexion) conexion = b.auto_conexion; }, function () { return null; })
      .then(function () { poll(80); });
  }

  /** 3-D Secure: the bank's challenge, by redirect (Conekta) or in a frame (Mercado Pago). */
  function startChallenge(a) {
    if (!a || !/^https?:\/\//.test(String(a.url || ''))) return poll(80);
    document.getElementById('pago').hidden = true;
    document.getElementById('autenticacion').hidden = false;
    document.getElementById('paso-wifi').hidden = a.paso_wifi !== false;
    if (a.tipo === 'redirect') {
      say('Te llevamos a la página de tu banco para confirmar el pago…', 'aviso');
      setTimeout(function () { window.location.assign(a.url); }, 600);
      return;
    }
    if (retoAbierto) return poll(80);
    retoAbierto = true;
    say('Confirma el pago en la ventana de tu banco. No cierres esta página.', 'aviso');
    var box = document.getElementById('reto');
    var frame = document.createElement('iframe');
    frame.name = 'reto-3ds';
    frame.title = 'Verificación de tu banco';
    frame.className = 'reto-frame';
    box.innerHTML = '';
    box.appendChild(frame);
    // MP "How to integrate 3DS": POST creq to external_resource_url with the iframe as target.
    var form = document.createElement('form');
    form.method = 'POST';
    form.action = a.url;
    form.target = 'reto-3ds';
    var creq = document.createElement('input');
    creq.type = 'hidden';
    creq.name = 'creq';
    creq.value = a.creq || '';
    form.appendChild(creq);
    document.body.appendChild(form);
    form.submit();
    form.remove();
    var origin = new URL(a.url).origin;
    window.addEventListener('message', function (ev) {
      if (ev.origin !== origin || ev.source !== frame.contentWindow || !ev.data || ev.data.status !== 'COMPLETE') return;
      say('Confirmando con tu banco…', 'aviso');
      backFromBank();
    });
    poll(80);
  }

  function poll(tries) {
    fetch(api + '/estado', { headers: { accept: 'application/json' } })
      .then(function (r) { return r.json(); })
      .then(function (b) {
        if (b.usuario_hotspot) return showVoucher(b);
        if (b.estado === 'rechazada' || b.estado === 'reembolsada') {
          pagando = false;
          document.getElementById('autenticacion').hidden = true;
          document.getElementById('reto').innerHTML = '';
          // Nothing was charged: the person may try another card on this page (a new attempt, a new key).
          idemKey = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : idemKey + '1';
          document.getElementById('pago').hidden = false;
          mount();
          return say(b.mensaje || 'El pago no se completó. No se hizo ningún cargo.', 'error');
        }
        if (tries > 0) setTimeout(function () { poll(tries - 1); }, 1500);
        else say('Tu pago se está procesando. Guarda tu referencia: ' + (b.referencia || ''), 'aviso');
      })
      .catch(function () { if (tries > 0) setTimeout(function () { poll(tries - 1); }, 3000); });
  }

  function answer(status, body) {
    var ficha = body.usuario_hotspot || (body.hotspot_user ? { usuario: body.hotspot_user.username, contrasena: body.hotspot_user.password } : null);
    if (status === 200 && (ficha || body.success)) {
      if (ficha && ficha.usuario) {
        return showVoucher({ usuario_hotspot: ficha, referencia: body.referencia, auto_conexion: body.auto_conexion || body.conexion_automatica });
      }
      return poll(40);
    }
    if (status === 202 && body.autenticacion) return startChallenge(body.autenticacion);
    if (status === 202 || (status >= 500 && body.referencia)) {
      say('Tu pago está pendiente de confirmación; no cierres esta página: tu ficha aparecerá aquí.', 'aviso');
      return poll(40);
    }
    pagando = false;
    say((body && body.detail && typeof body.detail === 'string') ? body.detail : 'No se pudo completar el pago. Intenta de nuevo.', 'error');
    idemKey = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : idemKey + '1';
  }

  function pay(fields) {
    if (pagando) return Promise.resolve();
    pagando = true;
    say('Procesando tu pago…', 'aviso');
    return fetch(api + '/pago', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': idemKey, accept: 'application/json' },
      body: JSON.stringify(fields),
    }).then(function (r) {
      return r.json().then(function (b) { answer(r.status, b || {}); }, function () { answer(r.status, {}); });
    }, function () {
      pagando = false;
      say('Sin conexión con el servidor. Revisa tu señal e intenta de nuevo (no se cobrará dos veces).', 'error');
    });
  }

  function mountConekta() {
    if (!window.ConektaCheckoutComponents) return say('No se pudo cargar el formulario de pago de Conekta.', 'error');
    // https://developers.conekta.com/docs/web-tokenizer
    window.ConektaCheckoutComponents.Card({
      config: { targetIFrame: '#card-fields', publicKey: d.publicKey, locale: 'es' },
      callbacks: {
        onCreateTokenSucceeded: function (token) { pay({ token: token.id }); },
        onCreateTokenError: function (error) { say((error && (error.message_to_purchaser || error.message)) || 'Revisa los datos de tu tarjeta.', 'error'); },
        onGetInfoSuccess: function () {},
      },
      allowTokenization: true,
    });
  }

  function mountMercadoPago() {
    if (!window.MercadoPago) return say('No se pudo cargar el formulario de pago de Mercado Pago.', 'error');
    // https://www.mercadopago.com.mx/developers/en/docs/checkout-bricks/card-payment-brick/default-rendering
    var mp = new window.MercadoPago(d.publicKey, { locale: 'es-MX' });
    mp.bricks().create('cardPayment', 'card-fields', {
      initialization: { amount: Number(d.monto), payer: { email: d.email } },
      customization: { paymentMethods: { maxInstallments: 1 } },
      callbacks: {
        onReady: function () {},
        onSubmit: function (formData) {
          return pay({
            token: formData.token,
            payment_method_id: formData.payment_method_id,
            issuer_id: formData.issuer_id || null,
            installments: formData.installments || 1,
          });
        },
        onError: function (error) { say((error && error.message) || 'Revisa los datos de tu tarjeta.', 'error'); },
      },
    });
  }

  var mounted = false;
  function mount() {
    if (mounted) return;
    mounted = true;
    if (d.pasarela === 'conekta') mountConekta(); else mountMercadoPago();
  }

  // A session already used (the page reloaded after paying): show where it stands.
  fetch(api + '/estado', { headers: { accept: 'application/json' } })
    .then(function (r) { return r.json(); })
    .then(function (b) {
      // Back from the bank's page (Conekta's return_url) or a reload during the challenge: the server reads the gateway.
      if (b.referencia && b.estado === 'en_autenticacion') {
        pagando = true;
        document.getElementById('pago').hidden = true;
        if (b.autenticacion && b.autenticacion.tipo === 'iframe') return startChallenge(b.autenticacion);
        say('Confirmando con tu banco…', 'aviso');
        return backFromBank();
      }
      if (b.referencia) { pagando = true; say('Consultando tu pago…', 'aviso'); return poll(40); }
      if (b.estado === 'expirada') return say('Este enlace de pago expiró. Vuelve a la página del WiFi.', 'error');
      mount();
    })
    .catch(function () { mount(); });
})();
