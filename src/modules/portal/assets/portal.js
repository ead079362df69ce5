/*
 * Portal cautivo de Pagos Hotspot (sin frameworks). Lo sirve el router MikroTik junto con login.html.
 * Flujo: empresa y catálogo → datos del comprador → sesión de pago → la misma ventana va a la página
 * HTTPS del servicio (/pagar/…), donde la pasarela captura la tarjeta en sus propios campos (esta página
 * nunca pide datos de tarjeta) → credenciales y conexión (automática desde el servidor; si no, pagado.html
 * de este kit las consulta y entra con el CHAP fresco del router) → la ficha queda guardada en este
 * dispositivo para reconectarse.
 * Escrito en ES2017 sin `?.` ni `??`: los navegadores de portal cautivo de algunos teléfonos son viejos.
 */
(function () {
  'use strict';

  var CFG = window.PORTAL_CONFIG || {};
  var HS = window.HOTSPOT || {};
  var API = String(CFG.apiBase || '').replace(/\/+$/, '');
  var STORAGE_KEY = 'pagos-hotspot:ficha:' + (CFG.routerId || 'router');
  var POLL_MS = CFG.pollIntervalMs || 3000;
  var POLL_MAX_MS = CFG.pollMaxMs || 15 * 60 * 1000;
  var LOGIN_DELAY_MS = CFG.routerLoginDelayMs === undefined ? 4000 : CFG.routerLoginDelayMs;

  // recarga: the voucher being topped up ("Recargar tiempo"), checked by profile-info; null for a new voucher.
  var state = { config: null, gateway: null, product: null, attempt: null, busy: false, recarga: null, shown: null };

  // ---------------------------------------------------------------- utilidades de página
  function $(id) { return document.getElementById(id); }
  function show(id, on) { $(id).hidden = on === false; }
  function hide(id) { $(id).hidden = true; }
  function text(id, value) { $(id).textContent = value; }

  function status(message, spinning) {
    text('estado-texto', message);
    $('estado').classList.toggle('quieto', spinning === false);
    show('estado');
  }
  function notice(message) {
    if (message) { text('aviso', message); show('aviso'); } else { hide('aviso'); }
  }
  function screen(name) {
    ['estado', 'catalogo', 'pago', 'ficha'].forEach(function (id) { $(id).hidden = id !== name; });
    // "Ya tengo una ficha" solo tiene sentido mientras se elige plan.
    $('tengo-ficha').hidden = name !== 'catalogo' || !!state.recarga;
  }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  function money(amount, currency) {
    var n = Number(amount);
    try {
      return new Intl.NumberFormat('es-MX', { style: 'currency', currency: currency || 'MXN' }).format(n);
    } catch (e) {
      return '$' + n.toFixed(2) + ' ' + (currency || '');
    }
  }

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  // The page the person first asked for, as the router passed it: used as a link, so only http(s)
  // (a javascript: URL would run on this page, whose storage holds the saved voucher).
  function linkOrig() {
    var url;
    try { url = decodeURIComponent(HS.linkOrigEsc || ''); } catch (e) { return ''; }
    return /^https?:\/\//i.test(url) ? url : '';
  }

  // ---------------------------------------------------------------- API
  function NetworkError(message) { this.message = message; }

  function api(method, path, body, opts) {
    opts = opts || {};
    var headers = { Authorization: 'Bearer ' + CFG.apiKey, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, opts.timeoutMs || 20000) : null;
    return fetch(API + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller ? controller.signal : undefined,
      credentials: 'omit',
      cache: 'no-store',
    }).then(function (res) {
      return res.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        return { status: res.status, ok: res.ok, data: data };
      });
    }, function () {
      throw new NetworkError('No se pudo contactar al servidor. Revise su conexión e intente de nuevo.');
    }).then(function (r) { if (timer) clearTimeout(timer); return r; }, function (e) { if (timer) clearTimeout(timer); throw e; });
  }

  var FIELD_NAMES = {
    nombre_cliente: 'nombre', email_cliente: 'correo electrónico', telefono_cliente: 'teléfono',
    token_tarjeta: 'tarjeta', token: 'tarjeta', producto_id: 'plan', mac_cliente: 'dispositivo', ip_cliente: 'dispositivo',
  };

  /** The Spanish message of an API error answer. */
  function errorMessage(res) {
    var d = res.data && res.data.detail;
    if (typeof d === 'string' && d) return d;
    if (d && d.length) {
      var fields = [];
      d.forEach(function (item) {
        var loc = item && item.loc ? item.loc[item.loc.length - 1] : '';
        var name = FIELD_NAMES[loc] || String(loc || 'datos');
        if (fields.indexOf(name) < 0) fields.push(name);
      });
      return 'Revise los datos: ' + fields.join(', ') + '.';
    }
    if (res.status === 401 || res.status === 403) return 'Esta red no está autorizada para vender. Avise al administrador.';
    if (res.status === 429) return 'Demasiados intentos. Espere un momento e intente de nuevo.';
    if (res.status >= 500) return 'El servicio no está disponible en este momento. Intente de nuevo en unos minutos.';
    return 'No se pudo completar la operación.';
  }

  // ---------------------------------------------------------------- ficha guardada
  function loadVoucher() {
    try {
      var v = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || 'null');
      return v && v.usuario ? v : null;
    } catch (e) { return null; }
  }
  function saveVoucher(v) {
    try { window.localStorage.setItem(STORAGE_KEY, JSON.stringify(v)); } catch (e) { /* almacenamiento no disponible */ }
  }
  function forgetVoucher() {
    try { window.localStorage.removeItem(STORAGE_KEY); } catch (e) { /* nada */ }
  }

  // ---------------------------------------------------------------- acceso por el router (respaldo)
  /** Submit the router's own login form (CHAP when the router asks for it). */
  function routerLogin(usuario, contrasena) {
    if (!HS.linkLoginOnly) return false;
    var form = $('hs-login');
    form.elements.username.value = usuario;
    form.elements.password.value = HS.chapId ? hexMd5(HS.chapId + (contrasena || '') + HS.chapChallenge) : (contrasena || '');
    try { window.sessionStorage.setItem('pagos-hotspot:intento', String(Date.now())); } catch (e) { /* nada */ }
    form.submit();
    return true;
  }

  var ROUTER_ERRORS = [
    [/invalid username or password|invalid password|no such user/i, 'Usuario o contraseña incorrectos.'],
    [/uptime limit|expired|limit reached|traffic limit/i, 'Su ficha ya agotó su tiempo. Puede comprar un nuevo plan.'],
    [/no more sessions|already logged in|simultaneous/i, 'Esta ficha ya está en uso en otro dispositivo.'],
    [/radius/i, 'El router no pudo validar la ficha. Intente de nuevo.'],
  ];
  function routerErrorText(raw) {
    for (var i = 0; i < ROUTER_ERRORS.length; i++) if (ROUTER_ERRORS[i][0].test(raw)) return ROUTER_ERRORS[i][1];
    return raw;
  }

  // ---------------------------------------------------------------- arranque
  function start() {
    if (!API || !CFG.apiKey) {
      status('Este portal no está configurado. Avise al administrador de la red.', false);
      return;
    }
    var routerError = ($('hs-error').textContent || '').trim();
    var recent = 0;
    try { recent = Number(window.sessionStorage.getItem('pagos-hotspot:intento') || 0); } catch (e) { recent = 0; }
    if (routerError) {
      notice(routerErrorText(routerError));
      if (/uptime limit|expired|limit reached/i.test(routerError)) forgetVoucher();
    }
    bindForms();
    loadCompany().catch(function () { /* loadCatalog shows the error */ });
    // pagado.html: back from the HTTPS checkout. The router gave this page a fresh CHAP challenge; fetch the
    // credentials of the referencia with the router key and log in (the password never travels in a URL).
    if (document.body.getAttribute('data-pagina') === 'pagado') {
      var ref = /[?&]referencia=([0-9a-fA-F-]{36})(?:&|$)/.exec(window.location.search);
      // conectado=1: the server already logged the device in; only remember the voucher here.
      state.online = /[?&]conectado=1(?:&|$)/.test(window.location.search);
      if (ref) return void pollPurchase(ref[1], 'Confirmando su pago…');
    }
    var saved = loadVoucher();
    // Never loop: after a failed router login, or a login attempt in the last minute, just show the page.
    if (saved && HS.mac && !routerError && Date.now() - recent > 60000) {
      reconnect(saved).then(function (done) { if (!done) loadCatalog(); });
    } else {
      loadCatalog();
    }
  }

  function reconnect(saved) {
    screen('estado');
    status('Reconectando con su ficha ' + saved.usuario + '…');
    return api('POST', '/api/v1/hotspot/auto-reconnect', {
      username: saved.usuario,
      password: saved.contrasena || '',
      stored_mac: saved.mac || null,
      current_mac: HS.mac,
      current_ip: HS.ip || null,
    }, { timeoutMs: 45000 }).then(function (res) {
      var d = res.data || {};
      if (res.ok && d.auto_conexion === 'conectado') {
        saved.mac = HS.mac;
        saveVoucher(saved);
        connected(saved, 'Se reconectó con su ficha ' + saved.usuario + '.');
        return true;
      }
      if (res.ok && (d.estado === 'expirado' || d.estado === 'credenciales_invalidas')) {
        forgetVoucher();
        notice('Su ficha anterior ya no es válida. Elija un nuevo plan.');
        return false;
      }
      // Could not confirm from the server: let the router try the saved credentials itself.
      if (routerLogin(saved.usuario, saved.contrasena)) {
        status('Conectando con su ficha ' + saved.usuario + '…');
        return true;
      }
      return false;
    }, function () {
      if (routerLogin(saved.usuario, saved.contrasena)) return true;
      return false;
    });
  }

  function connected(voucher, message) {
    showVoucher(voucher);
    text('ficha-titulo', '¡Listo! Ya tiene Internet');
    text('ficha-mensaje', message);
    hide('conectar');
    var dst = linkOrig();
    if (dst) {
      $('continuar').href = dst;
      show('continuar');
    }
  }

  // ---------------------------------------------------------------- empresa y catálogo
  var companyLoad = null;
  /** Company and router (header, gateway keys); loaded once, also on the reconnect path. */
  function loadCompany() {
    if (!companyLoad) {
      companyLoad = api('GET', '/api/v1/config/public').then(function (conf) {
        if (!conf.ok) throw new Error(errorMessage(conf));
        state.config = conf.data;
        renderCompany(conf.data);
        state.gateway = chooseGateway(conf.data.empresa || {});
        return conf.data;
      });
      companyLoad.catch(function () { companyLoad = null; });
    }
    return companyLoad;
  }

  function loadCatalog() {
    screen('estado');
    status('Cargando planes…');
    return Promise.all([loadCompany(), api('GET', '/api/v1/catalogo_perfiles_venta')]).then(function (r) {
      var cat = r[1];
      if (!cat.ok) throw new Error(errorMessage(cat));
      renderCatalog(cat.data || []);
      screen('catalogo');
    }).catch(function (err) {
      status((err && err.message) || 'No se pudieron cargar los planes.', false);
      var retry = document.createElement('button');
      retry.className = 'boton secundario';
      retry.type = 'button';
      retry.textContent = 'Reintentar';
      retry.onclick = function () { retry.parentNode.removeChild(retry); loadCatalog(); };
      $('estado').appendChild(retry);
    });
  }

  function renderCompany(conf) {
    var e = conf.empresa || {}, r = conf.router || {};
    if (e.nombre) { text('empresa-nombre', e.nombre); document.title = e.nombre + ' · Internet WiFi'; }
    if (r.ubicacion) { text('router-ubicacion', r.ubicacion); show('router-ubicacion'); }
    if (e.logo_url) {
      var logo = $('logo');
      logo.src = /^https?:\/\//i.test(e.logo_url) ? e.logo_url : API + (e.logo_url.charAt(0) === '/' ? '' : '/') + e.logo_url;
      logo.alt = e.nombre || '';
      logo.onerror = function () { logo.hidden = true; };
      show('logo');
    }
  }

  function chooseGateway(empresa) {
    var pref = CFG.gateway || 'auto';
    var conekta = !!empresa.conekta_public_key, mp = !!empresa.mercadopago_public_key;
    if (pref === 'conekta') return conekta ? 'conekta' : null;
    if (pref === 'mercado_pago') return mp ? 'mercado_pago' : null;
    return conekta ? 'conekta' : mp ? 'mercado_pago' : null;
  }

  function detalleText(d) {
    if (d === null || d === undefined) return '';
    if (typeof d !== 'object') return String(d);
    var v = d.texto !== undefined ? d.texto : d.value !== undefined ? d.value : d.text;
    return v === undefined || v === null ? '' : String(v);
  }

  function renderCatalog(items) {
    var list = $('planes');
    list.textContent = '';
    if (!items.length) { show('sin-planes'); return; }
    hide('sin-planes');
    items.forEach(function (p) {
      var li = document.createElement('li');
      li.className = 'plan' + (p.destacado ? ' destacado' : '');
      li.setAttribute('data-producto-id', String(p.id));
      if (p.destacado) {
        var tag = document.createElement('span');
        tag.className = 'etiqueta';
        tag.textContent = 'Recomendado';
        li.appendChild(tag);
      }
      var head = document.createElement('div');
      head.className = 'plan-cabeza';
      var name = document.createElement('span');
      name.className = 'plan-nombre';
      name.textContent = p.nombre_venta;
      var price = document.createElement('span');
      price.className = 'plan-precio';
      price.textContent = money(p.precio, p.moneda);
      head.appendChild(name);
      head.appendChild(price);
      li.appendChild(head);
      if (p.descripcion) {
        var desc = document.createElement('p');
        desc.className = 'plan-desc';
        desc.textContent = p.descripcion;
        li.appendChild(desc);
      }
      var detalles = (p.detalles || []).map(detalleText).filter(Boolean);
      if (detalles.length) {
        var ul = document.createElement('ul');
        ul.className = 'plan-detalles';
        detalles.forEach(function (t) {
          var item = document.createElement('li');
          item.textContent = t.replace(/^[•·\-*]\s*/, '');
          ul.appendChild(item);
        });
        li.appendChild(ul);
      }
      var buy = document.createElement('button');
      buy.type = 'button';
      buy.className = 'boton';
      buy.textContent = 'Comprar';
      buy.setAttribute('aria-label', 'Comprar ' + p.nombre_venta + ' por ' + money(p.precio, p.moneda));
      buy.onclick = function () { choose(p); };
      if (!state.gateway) { buy.disabled = true; buy.textContent = 'Pagos no disponibles'; }
      li.appendChild(buy);
      list.appendChild(li);
    });
  }

  function choose(p) {
    state.product = p;
    state.attempt = null;
    $('resumen').textContent = '';
    var n = document.createElement('span');
    n.textContent = p.nombre_venta;
    var m = document.createElement('span');
    m.textContent = money(p.precio, p.moneda);
    $('resumen').appendChild(n);
    $('resumen').appendChild(m);
    if (state.recarga) {
      n.textContent = 'Recarga: ' + p.nombre_venta + ' para ' + state.recarga.usuario;
    }
    text('pagar', 'Pagar ' + money(p.precio, p.moneda));
    hide('error-pago');
    notice('');
    screen('pago');
    window.scrollTo(0, 0);
  }

  // ---------------------------------------------------------------- datos del comprador y paso al pago seguro
  function readBuyer() {
    var f = $('form-pago').elements;
    var problems = [];
    var mark = function (el, bad) { el.setAttribute('aria-invalid', bad ? 'true' : 'false'); if (bad) problems.push(el); };
    var name = f.nombre.value.trim();
    var email = f.email.value.trim();
    var phone = f.telefono.value.trim();
    mark(f.nombre, name.length < 2);
    mark(f.email, !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email));
    mark(f.telefono, phone !== '' && !/^[+\d][\d\s()-]{6,19}$/.test(phone));
    if (problems.length) {
      problems[0].focus();
      var what = problems.map(function (el) { return el.labels && el.labels[0] ? el.labels[0].firstChild.textContent.trim().toLowerCase() : el.name; });
      throw new Error('Revise: ' + what.join(', ') + '.');
    }
    return { name: name, email: email, phone: phone };
  }

  function formError(message) {
    if (message) { text('error-pago', message); show('error-pago'); } else { hide('error-pago'); }
  }

  function setBusy(on, label) {
    state.busy = on;
    var b = $('pagar');
    b.disabled = on;
    if (on) b.textContent = label || 'Procesando…';
    else if (state.product) b.textContent = 'Pagar ' + money(state.product.precio, state.product.moneda);
  }

  /** The router writes CHAP bytes as octal escapes that JavaScript decoded; the API takes them escaped again. */
  function octal(s) {
    var out = '';
    for (var i = 0; i < s.length; i++) out += '\\' + ('00' + (s.charCodeAt(i) & 0xff).toString(8)).slice(-3);
    return out;
  }

  function bindForms() {
    $('volver').onclick = function () { if (!state.busy) { formError(''); screen('catalogo'); } };
    $('form-pago').addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (!state.busy) pay();
    });
    $('form-ficha').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var f = ev.target.elements;
      var usuario = f.usuario.value.trim();
      if (!usuario) return;
      var voucher = { usuario: usuario, contrasena: f.contrasena.value, mac: HS.mac || null, guardada: new Date().toISOString() };
      saveVoucher(voucher);
      checkVoucher(voucher).then(function (shown) {
        if (!shown && !routerLogin(usuario, voucher.contrasena)) notice('Conéctese a la red WiFi para usar su ficha.');
      });
    });
    $('conectar').onclick = function () {
      var v = loadVoucher();
      if (v) routerLogin(v.usuario, v.contrasena);
    };
    // "Recargar tiempo": the plans again, to add time to the SAME voucher (the server checks it again).
    $('recargar').onclick = function () {
      if (state.shown) startTopUp(state.shown);
    };
    $('recarga-cancelar').onclick = function () { endTopUp(); };
  }

  function startTopUp(voucher) {
    state.recarga = { usuario: voucher.usuario, contrasena: voucher.contrasena || '' };
    text('recarga-ficha', voucher.usuario);
    show('recarga-aviso');
    text('catalogo-titulo', 'Elija cuánto tiempo agregar');
    notice('');
    screen('catalogo');
    if (!$('planes').children.length) loadCatalog();
    window.scrollTo(0, 0);
  }

  function endTopUp() {
    state.recarga = null;
    hide('recarga-aviso');
    text('catalogo-titulo', 'Elija su plan');
    screen('catalogo');
  }

  /** "Pagar": a checkout session, then this same window goes to the service's HTTPS page (no pop-ups). */
  function pay() {
    formError('');
    var buyer;
    try { buyer = readBuyer(); } catch (err) { formError(err.message); return; }
    var p = state.product;
    setBusy(true, 'Abriendo el pago seguro…');
    var body = {
      producto_id: p.id,
      pasarela: state.gateway || null,
      nombre_cliente: buyer.name,
      email_cliente: buyer.email,
      telefono_cliente: buyer.phone || null,
      link_login_only: HS.linkLoginOnly || null,
      chap_id: HS.chapId ? octal(HS.chapId) : null,
      chap_challenge: HS.chapChallenge ? octal(HS.chapChallenge) : null,
      mac: HS.mac || null,
      ip: HS.ip || null,
      dst: linkOrig() || null,
    };
    // A top-up: the session proves the voucher (its password; none for a PIN) and pays time onto it.
    if (state.recarga) {
      body.recarga_usuario = state.recarga.usuario;
      body.recarga_contrasena = state.recarga.contrasena || null;
    }
    api('POST', '/api/v1/checkout/sesiones', body).then(function (res) {
      if (res.ok && res.data && /^https?:\/\//.test(String(res.data.url || ''))) {
        window.location.assign(res.data.url);
        return;
      }
      setBusy(false);
      formError(errorMessage(res));
    }, function (err) {
      setBusy(false);
      formError(err.message);
    });
  }

  function credsOf(d) {
    var u = d && d.usuario_hotspot;
    return u && u.usuario ? { usuario: String(u.usuario), contrasena: u.contrasena ? String(u.contrasena) : '' } : null;
  }
  function isPendingPayment(d) {
    var s = String(d.estado_pago || '').toLowerCase();
    return s === 'pending' || s === 'in_process' || s === 'pendiente' || d.estado === 'iniciada' || d.estado === 'en_revision';
  }
  function delivered(d) {
    // Legacy answers carry neither field: credentials in a success answer were active.
    if (d.estado === undefined && d.estado_hotspot === undefined) return true;
    return d.estado === 'entregada' || String(d.estado_hotspot || '').toLowerCase() === 'active';
  }

  /**
   * "Ya tengo una ficha": ask the server about the voucher (profile-info, rate-limited there). A plan with a
   * validity shows the time left before connecting; true when something was shown (else: straight to the
   * router's login, as before).
   */
  function checkVoucher(voucher) {
    return api('POST', '/api/v1/hotspot/user/profile-info', { username: voucher.usuario, password: voucher.contrasena ? voucher.contrasena : null }).then(function (res) {
      var d = res.data || {};
      if (res.ok && d.estado === 'credenciales_invalidas') {
        forgetVoucher();
        notice('Usuario o contraseña incorrectos. Revise su ficha.');
        return true;
      }
      if (!res.ok || d.success !== true) return false;
      // A voucher without a validity nor a time limit: straight to the router's login, as before.
      var limited = typeof d.tiempo_restante === 'number' || !!d.limit_uptime;
      if (!limited) return false;
      showVoucher(voucher);
      text('ficha-titulo', 'Su ficha');
      state.shown = voucher;
      show('recargar', !!state.gateway);
      if (typeof d.tiempo_restante !== 'number') {
        text('ficha-vigencia', 'Tiempo de conexión de su ficha: ' + uptimeText(d.limit_uptime) + '.');
        show('ficha-vigencia');
        text('ficha-mensaje', HS.linkLoginOnly ? 'Toque «Conectarme ahora» para navegar, o recargue más tiempo.' : 'Use estos datos en la página de acceso de la red WiFi.');
        show('conectar', !!HS.linkLoginOnly);
        return true;
      }
      var left = d.tiempo_restante;
      if (left <= 0) {
        text('ficha-mensaje', 'Su ficha ya venció. Puede comprar un nuevo plan.');
        text('ficha-vigencia', 'Tiempo restante: 0 min');
        show('ficha-vigencia');
        hide('conectar');
        hide('recargar');
        forgetVoucher();
        return true;
      }
      text('ficha-vigencia', d.expira_en ? 'Le quedan ' + duration(left) + '.' : 'Su ficha dura ' + duration(left) + ' desde que se conecte por primera vez.');
      show('ficha-vigencia');
      text('ficha-mensaje', HS.linkLoginOnly ? 'Toque «Conectarme ahora» para navegar.' : 'Use estos datos en la página de acceso de la red WiFi.');
      show('conectar', !!HS.linkLoginOnly);
      return true;
    }, function () { return false; });
  }

  /** RouterOS limit-uptime ("1d2h", "3h30m", "01:00:00") → words. */
  function uptimeText(v) {
    var s = String(v || '');
    var clock = /^(?:(\d+)d\s*)?(\d+):(\d+):(\d+)$/.exec(s);
    var total = 0;
    if (clock) total = (Number(clock[1] || 0) * 86400) + Number(clock[2]) * 3600 + Number(clock[3]) * 60 + Number(clock[4]);
    else s.replace(/(\d+)(w|d|h|m|s)/g, function (_, n, u) { total += Number(n) * { w: 604800, d: 86400, h: 3600, m: 60, s: 1 }[u]; return ''; });
    return total > 0 ? duration(total) : s;
  }

  /** Seconds → "2 días 3 h", "1 h 5 min", "4 min". */
  function duration(seconds) {
    var d = Math.floor(seconds / 86400);
    var h = Math.floor((seconds % 86400) / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    if (d > 0) return d + (d === 1 ? ' día' : ' días') + (h > 0 ? ' ' + h + ' h' : '');
    if (h > 0) return h + ' h' + (m > 0 ? ' ' + m + ' min' : '');
    return Math.max(1, m) + ' min';
  }

  function showVoucher(v) {
    hide('ficha-vigencia');
    hide('recargar');
    state.shown = null;
    text('ficha-usuario', v.usuario);
    if (v.contrasena) {
      text('ficha-usuario-etq', 'Usuario');
      text('ficha-contrasena', v.contrasena);
      show('ficha-contrasena-etq');
      show('ficha-contrasena');
    } else {
      text('ficha-usuario-etq', 'PIN');
      hide('ficha-contrasena-etq');
      hide('ficha-contrasena');
    }
    hide('continuar');
    screen('ficha');
    notice('');
    window.scrollTo(0, 0);
  }

  function loginWithRouter(voucher, why) {
    if (!HS.linkLoginOnly) {
      text('ficha-mensaje', 'Use estos datos en la página de acceso de la red WiFi.');
      return;
    }
    text('ficha-mensaje', why || 'Estamos conectando su dispositivo con estos datos…');
    show('conectar');
    setTimeout(function () { routerLogin(voucher.usuario, voucher.contrasena); }, LOGIN_DELAY_MS);
  }

  /** Follow a purchase whose payment or delivery is still pending, until it ends either way. */
  function pollPurchase(ref, message, unknownRefError) {
    if (!ref) {
      formError('No pudimos confirmar su pago. Si se le hizo un cargo, contacte al administrador de la red.');
      return;
    }
    if (message) { screen('estado'); status(message + ' No cierre esta página: su ficha aparecerá aquí.'); }
    var started = Date.now();
    function tick() {
      return api('GET', '/api/v1/payments/transacciones/' + encodeURIComponent(ref)).then(function (res) {
        // 404: no attempt was recorded under this referencia (refused before any charge): the first answer stands.
        if (!res.ok) return res.status >= 500 || res.status === 429 ? null : { error: res.status === 404 && unknownRefError ? unknownRefError : errorMessage(res) };
        var d = res.data || {};
        if (d.transaccion && typeof d.transaccion === 'object') d = Object.assign({}, d.transaccion, d);
        var estado = String(d.estado || '').toLowerCase();
        var pago = String(d.estado_pago || '').toLowerCase();
        // A partial refund leaves the voucher active (estado reembolso_parcial, estado_pago partially_refunded).
        if (estado === 'rechazada' || estado === 'reembolsada' || (estado !== 'reembolso_parcial' && /rejected|cancel|declined|refunded|expired|voided|failed/.test(pago))) {
          return { error: d.mensaje || d.detail || (estado === 'reembolsada' ? 'El pago fue reembolsado.' : 'El pago no fue aprobado.') };
        }
        var creds = credsOf(d);
        if (creds && delivered(d)) return { creds: creds };
        return null;
      }, function () { return null; });
    }
    function loop() {
      return tick().then(function (r) {
        if (r && r.creds) {
          var v = { usuario: r.creds.usuario, contrasena: r.creds.contrasena, referencia: ref, mac: HS.mac || null, guardada: new Date().toISOString() };
          saveVoucher(v);
          if (state.online) return connected(v, 'Su ficha quedó guardada en este dispositivo para reconectarse.');
          showVoucher(v);
          text('ficha-titulo', '¡Pago aprobado!');
          loginWithRouter(v, 'Su ficha ya está activa. Estamos conectando su dispositivo…');
          return;
        }
        if (r && r.error) {
          state.attempt = null;
          screen('pago');
          formError(r.error);
          return;
        }
        if (Date.now() - started > POLL_MAX_MS) {
          screen('estado');
          status('Su pago sigue en revisión. Le avisaremos por correo; si se aprueba, su ficha se activará sola. Referencia: ' + ref, false);
          return;
        }
        return sleep(POLL_MS).then(loop);
      });
    }
    return loop();
  }

  // ---------------------------------------------------------------- MD5 (acceso CHAP del router)
  // Operates on "binary strings" (one byte per char), as the router's own md5.js does.
  function hexMd5(s) {
    function add(x, y) { var l = (x & 0xffff) + (y & 0xffff); return (((x >> 16) + (y >> 16) + (l >> 16)) << 16) | (l & 0xffff); }
    function rol(n, c) { return (n << c) | (n >>> (32 - c)); }
    function cmn(q, a, b, x, s2, t) { return add(rol(add(add(a, q), add(x, t)), s2), b); }
    function ff(a, b, c, d, x, s2, t) { return cmn((b & c) | (~b & d), a, b, x, s2, t); }
    function gg(a, b, c, d, x, s2, t) { return cmn((b & d) | (c & ~d), a, b, x, s2, t); }
    function hh(a, b, c, d, x, s2, t) { return cmn(b ^ c ^ d, a, b, x, s2, t); }
    function ii(a, b, c, d, x, s2, t) { return cmn(c ^ (b | ~d), a, b, x, s2, t); }
    var n = s.length, words = [], i;
    for (i = 0; i < n; i++) words[i >> 2] |= (s.charCodeAt(i) & 0xff) << ((i % 4) * 8);
    words[n >> 2] |= 0x80 << ((n % 4) * 8);
    var total = (((n + 8) >> 6) + 1) * 16;
    for (i = 0; i < total; i++) words[i] = words[i] | 0;
    words[total - 2] = n * 8;
    var a = 1732584193, b = -271733879, c = -1732584194, d = 271733878;
    for (i = 0; i < total; i += 16) {
      var oa = a, ob = b, oc = c, od = d, x = words.slice(i, i + 16);
      a = ff(a, b, c, d, x[0], 7, -680876936); d = ff(d, a, b, c, x[1], 12, -389564586); c = ff(c, d, a, b, x[2], 17, 606105819); b = ff(b, c, d, a, x[3], 22, -1044525330);
      a = ff(a, b, c, d, x[4], 7, -176418897); d = ff(d, a, b, c, x[5], 12, 1200080426); c = ff(c, d, a, b, x[6], 17, -1473231341); b = ff(b, c, d, a, x[7], 22, -45705983);
      a = ff(a, b, c, d, x[8], 7, 1770035416); d = ff(d, a, b, c, x[9], 12, -1958414417); c = ff(c, d, a, b, x[10], 17, -42063); b = ff(b, c, d, a, x[11], 22, -1990404162);
      a = ff(a, b, c, d, x[12], 7, 1804603682); d = ff(d, a, b, c, x[13], 12, -40341101); c = ff(c, d, a, b, x[14], 17, -1502002290); b = ff(b, c, d, a, x[15], 22, 1236535329);
      a = gg(a, b, c, d, x[1], 5, -165796510); d = gg(d, a, b, c, x[6], 9, -1069501632); c = gg(c, d, a, b, x[11], 14, 643717713); b = gg(b, c, d, a, x[0], 20, -373897302);
      a = gg(a, b, c, d, x[5], 5, -701558691); d = gg(d, a, b, c, x[10], 9, 38016083); c = gg(c, d, a, b, x[15], 14, -660478335); b = gg(b, c, d, a, x[4], 20, -405537848);
      a = gg(a, b, c, d, x[9], 5, 568446438); d = gg(d, a, b, c, x[14], 9, -1019803690); c = gg(c, d, a, b, x[3], 14, -187363961); b = gg(b, c, d, a, x[8], 20, 1163531501);
      a = gg(a, b, c, d, x[13], 5, -1444681467); d = gg(d, a, b, c, x[2], 9, -51403784); c = gg(c, d, a, b, x[7], 14, 1735328473); b = gg(b, c, d, a, x[12], 20, -1926607734);
      a = hh(a, b, c, d, x[5], 4, -378558); d = hh(d, a, b, c, x[8], 11, -2022574463); c = hh(c, d, a, b, x[11], 16, 1839030562); b = hh(b, c, d, a, x[14], 23, -35309556);
      a = hh(a, b, c, d, x[1], 4, -1530992060); d = hh(d, a, b, c, x[4], 11, 1272893353); c = hh(c, d, a, b, x[7], 16, -155497632); b = hh(b, c, d, a, x[10], 23, -1094730640);
      a = hh(a, b, c, d, x[13], 4, 681279174); d = hh(d, a, b, c, x[0], 11, -358537222); c = hh(c, d, a, b, x[3], 16, -722521979); b = hh(b, c, d, a, x[6], 23, 76029189);
      a = hh(a, b, c, d, x[9], 4, -640364487); d = hh(d, a, b, c, x[12], 11, -421815835); c = hh(c, d, a, b, x[15], 16, 530742520); b = hh(b, c, d, a, x[2], 23, -995338651);
      a = ii(a, b, c, d, x[0], 6, -198630844); d = ii(d, a, b, c, x[7], 10, 1126891415); c = ii(c, d, a, b, x[14], 15, -1416354905); b = ii(b, c, d, a, x[5], 21, -57434055);
      a = ii(a, b, c, d, x[12], 6, 1700485571); d = ii(d, a, b, c, x[3], 10, -1894986606); c = ii(c, d, a, b, x[10], 15, -1051523); b = ii(b, c, d, a, x[1], 21, -2054922799);
      a = ii(a, b, c, d, x[8], 6, 1873313359); d = ii(d, a, b, c, x[15], 10, -30611744); c = ii(c, d, a, b, x[6], 15, -1560198380); b = ii(b, c, d, a, x[13], 21, 1309151649);
      a = ii(a, b, c, d, x[4], 6, -145523070); d = ii(d, a, b, c, x[11], 10, -1120210379); c = ii(c, d, a, b, x[2], 15, 718787259); b = ii(b, c, d, a, x[9], 21, -343485551);
      a = add(a, oa); b = add(b, ob); c = add(c, oc); d = add(d, od);
    }
    var out = '';
    [a, b, c, d].forEach(function (w) { for (var j = 0; j < 4; j++) out += ((w >> (j * 8 + 4)) & 0xf).toString(16) + ((w >> (j * 8)) & 0xf).toString(16); });
    return out;
  }
  window.PagosHotspotPortal = { hexMd5: hexMd5, detalleText: detalleText };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
