/*
 * LiveSupportBot chat widget. Plain JavaScript, no framework, one tag to embed:
 *
 *   <script src="https://.../widget.js" data-widget-key="wk_..." data-api="https://.../dev"></script>
 *
 * It gets a session (POST {data-api}/widget/v1/session), keeps the visitor token
 * in localStorage, connects to the WebSocket URL the session names, resumes the
 * conversation's history, reconnects with backoff, pings before the 10-minute
 * idle timeout, and shows acks, agent and bot messages, typing and errors.
 * It asks whether an agent is online (on connect, and every minute while the
 * panel is open) and shows it in the header; when nobody is and the visitor
 * has no conversation yet, the panel offers an offline form (name, email,
 * message) above the composer: it identifies the visitor, then sends the
 * message like any other. The composer stays for a visitor who would rather
 * just write (and for pages that send with LiveSupportBot.send).
 * Optional: data-ping-seconds (default 240).
 *
 * Page API (window.LiveSupportBot):
 *   open()           opens the panel.
 *   send(text)       sends a message.
 *   stop()           disconnects for good.
 *   visitorId()      the visitor's id, as the session named it (null until then);
 *                    the panel's footer shows it too, for privacy requests.
 *   consent()        the visitor's stored analytics choice: true, false, or null
 *                    when never given.
 *   consent(bool)    gives (true) or withdraws (false) consent to usage analytics,
 *                    kept in localStorage across page loads; returns the choice.
 * Usage analytics are the pageView frames (page, referrer, time on page; the
 * server adds device and network). When the session's analyticsConsent is
 * "required" the widget sends none until consent(true), and marks the ones it
 * sends "consent": true (the server refuses others); when "not_required" it
 * sends them unless the visitor called consent(false). Chat works either way.
 */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script) { return; }
  var WIDGET_KEY = script.getAttribute('data-widget-key') || '';
  var API = (script.getAttribute('data-api') || '').replace(/\/+$/, '');
  var STORE = 'lsb:' + WIDGET_KEY;
  // Ping well inside API Gateway's 10-minute idle timeout (data-ping-seconds, default 240).
  var PING_MS = Math.max(1, Number(script.getAttribute('data-ping-seconds')) || 240) * 1000;
  var MAX_BACKOFF_MS = 30 * 1000;
  var PRESENCE_MS = 60 * 1000; // how often an open panel asks whether an agent is online

  var state = {
    token: null, visitorId: null, ws: null, wsUrl: null,
    backoff: 1000, retryTimer: null, pingTimer: null, typingTimer: null, typingSent: 0,
    gen: 0,              // connect attempts: only the latest one's session opens a socket
    outbox: {},          // clientMessageId -> {text, sentAt}, resent after a reconnect
    clockOffset: 0,      // the server's clock minus ours (ms), from the session
    shown: {},           // message id -> element
    pendingEls: {},      // clientMessageId -> element
    historyNext: null, stopped: false,
    consentRequired: false, // the session's analyticsConsent is "required"
    agentsOnline: null,     // the last presence answer: true, false, or null before one
    historyLoaded: false,   // the latest history page arrived: we know whether a conversation exists
    offline: null           // {name, email, text} of an offline form being sent
  };

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE) || '{}'); } catch (e) { return {}; }
  }
  function save(patch) {
    var s = load();
    for (var k in patch) { s[k] = patch[k]; }
    try { localStorage.setItem(STORE, JSON.stringify(s)); } catch (e) { /* private mode */ }
  }

  // ---------------------------------------------------------------- UI
  // Layout: the launcher stays at the bottom right; the panel is fixed apart from
  // it, so opening never moves it. On larger screens the panel floats above the
  // launcher and never exceeds the viewport (20 px margins, 74 px kept for the
  // launcher); its log scrolls inside while header and input stay. Phones get it
  // full screen (see the media query) with a close control in the header.
  // Safe areas (notches, home bars) count where the host page lets them.
  // Where the panel is full screen: phones in portrait and in landscape.
  var FULL_SCREEN = '(max-width:480px),(max-height:440px)';
  var SAFE_T = 'env(safe-area-inset-top,0px)', SAFE_R = 'env(safe-area-inset-right,0px)';
  var SAFE_B = 'env(safe-area-inset-bottom,0px)', SAFE_L = 'env(safe-area-inset-left,0px)';
  var css = [
    '#lsb-root{position:fixed;right:calc(20px + ' + SAFE_R + ');bottom:calc(20px + ' + SAFE_B + ');z-index:2147483000;font:14px/1.4 system-ui,sans-serif;color:#1d1d1f}',
    '#lsb-toggle{box-sizing:border-box;height:44px;border:0;border-radius:22px;padding:0 18px;background:#2f6fed;color:#fff;font:inherit;font-weight:600;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.2)}',
    '#lsb-panel{display:none;flex-direction:column;box-sizing:border-box;position:fixed;' +
      'right:calc(20px + ' + SAFE_R + ');bottom:calc(74px + ' + SAFE_B + ');' +
      'width:340px;max-width:calc(100% - 40px - ' + SAFE_L + ' - ' + SAFE_R + ');' +
      'height:480px;max-height:calc(100% - 94px - ' + SAFE_T + ' - ' + SAFE_B + ');' +
      'background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);overflow:hidden}',
    '#lsb-root.lsb-open #lsb-panel{display:flex}',
    '#lsb-panel>*{flex-shrink:0}',
    '#lsb-head{background:#2f6fed;color:#fff;padding:10px 8px 10px 14px;display:flex;align-items:center;gap:8px}',
    '#lsb-title{flex:1;display:flex;flex-direction:column;min-width:0}',
    '#lsb-presence{font-size:12px;opacity:.9}',
    '#lsb-presence:empty{display:none}',
    '#lsb-presence::before{content:"";display:inline-block;width:8px;height:8px;border-radius:4px;margin-right:5px;background:#f5b942}',
    '#lsb-presence[data-online=true]::before{background:#4ade80}',
    '#lsb-status{font-size:12px;opacity:.85}',
    '#lsb-close{border:0;background:none;color:#fff;font-size:22px;line-height:1;width:32px;height:32px;border-radius:16px;cursor:pointer}',
    '#lsb-close:hover,#lsb-close:focus-visible{background:rgba(255,255,255,.2)}',
    '#lsb-log{flex:1 1 auto;min-height:0;overflow-y:auto;overscroll-behavior:contain;padding:10px;background:#f6f7f9}',
    '.lsb-msg{max-width:80%;margin:6px 0;padding:8px 10px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word}',
    '.lsb-msg .lsb-meta{display:block;font-size:11px;opacity:.7;margin-top:2px}',
    '.lsb-visitor{margin-left:auto;background:#2f6fed;color:#fff}',
    '.lsb-agent{background:#fff;border:1px solid #dde}',
    '.lsb-bot{background:#eef6ee;border:1px solid #cdc}',
    '.lsb-system{margin:6px auto;background:none;font-size:12px;color:#666;text-align:center}',
    '.lsb-msg[data-state=pending]{opacity:.6}',
    '.lsb-msg[data-state=failed]{background:#c0392b}',
    '#lsb-typing{min-height:18px;padding:0 12px;font-size:12px;color:#666}',
    '#lsb-error{display:none;padding:6px 12px;background:#fdecea;color:#8a1c12;font-size:12px}',
    '#lsb-form{display:flex;border-top:1px solid #e3e3e3}',
    '#lsb-input{flex:1;min-width:0;border:0;padding:12px;font:inherit;outline:none}',
    '#lsb-send{border:0;background:none;color:#2f6fed;font-weight:600;padding:0 14px;cursor:pointer}',
    '#lsb-identify{padding:10px 12px;border-top:1px solid #e3e3e3;background:#fafafa}',
    '#lsb-identify input{width:100%;box-sizing:border-box;margin:3px 0;padding:6px;border:1px solid #ccc;border-radius:6px;font:inherit}',
    '#lsb-identify button{margin-top:4px;border:0;border-radius:6px;background:#2f6fed;color:#fff;padding:6px 10px;cursor:pointer}',
    '#lsb-offline{display:none;flex:0 1 auto;min-height:0;overflow-y:auto;padding:10px 12px;border-top:1px solid #e3e3e3;background:#fafafa}',
    // Away with no conversation the log is empty: the form takes its room.
    '#lsb-root.lsb-away #lsb-offline{display:block;flex:1 1 auto}',
    '#lsb-root.lsb-away #lsb-log,#lsb-root.lsb-away #lsb-identify{display:none}',
    '#lsb-offline p{margin:0 0 6px}',
    '#lsb-offline label{display:block;font-size:12px;color:#444;margin-top:4px}',
    '#lsb-offline input,#lsb-offline textarea{width:100%;box-sizing:border-box;margin:2px 0 0;padding:6px;border:1px solid #ccc;border-radius:6px;font:inherit;resize:vertical}',
    '#lsb-offline [aria-invalid=true]{border-color:#c0392b}',
    '.lsb-field-error{font-size:12px;color:#c0392b;min-height:0}',
    '.lsb-field-error:empty{display:none}',
    '#lsb-offline button{margin-top:6px;border:0;border-radius:6px;background:#2f6fed;color:#fff;padding:7px 12px;cursor:pointer;font:inherit}',
    '#lsb-offline button:disabled{opacity:.6;cursor:default}',
    '.lsb-notice{margin:8px auto;font-size:12px;color:#555;text-align:center}',
    '#lsb-more{display:none;margin:0 auto 6px;border:0;background:none;color:#2f6fed;cursor:pointer;font-size:12px}',
    '#lsb-privacy{display:none;padding:3px 12px;border-top:1px solid #eee;font-size:11px;color:#888}',
    '#lsb-visitor-id{font-family:monospace;user-select:all}',
    '#lsb-copy{border:0;background:none;color:#2f6fed;cursor:pointer;font-size:11px;padding:0 4px}',
    // Full screen where a floating panel would leave the log too little room:
    // phones in portrait (up to 480 px wide) and in landscape (up to 440 px high).
    // 16 px inputs keep iOS from zooming in on focus.
    '@media ' + FULL_SCREEN + '{' +
      '#lsb-panel{top:0;right:0;bottom:0;left:0;width:auto;height:auto;max-width:none;max-height:none;border-radius:0;' +
        'padding:0 ' + SAFE_R + ' ' + SAFE_B + ' ' + SAFE_L + '}' +
      '#lsb-head{padding-top:calc(10px + ' + SAFE_T + ')}' +
      // With the keyboard up little height is left: the identify form gives
      // way (it scrolls) before the composer would.
      '#lsb-identify{flex-shrink:1;min-height:0;overflow-y:auto}' +
      '#lsb-input,#lsb-identify input,#lsb-offline input,#lsb-offline textarea{font-size:16px}}'
  ].join('\n');

  var root, log, input, statusEl, typingEl, errorEl, identifyEl, moreBtn, privacyEl, visitorIdEl;
  var presenceEl, offlineEl, offlineFields, offlineSend;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in (attrs || {})) { e.setAttribute(k, attrs[k]); }
    if (text != null) { e.textContent = text; }
    return e;
  }

  function buildUI() {
    var style = el('style', null, css);
    document.head.appendChild(style);
    root = el('div', { id: 'lsb-root' });
    var panel = el('div', { id: 'lsb-panel', role: 'dialog', 'aria-label': 'Chat' });
    var head = el('div', { id: 'lsb-head' });
    var title = el('div', { id: 'lsb-title' });
    title.appendChild(el('strong', null, 'Chat with us'));
    // Whether an agent is online: empty until the server says.
    presenceEl = el('span', { id: 'lsb-presence', 'data-online': '' });
    title.appendChild(presenceEl);
    head.appendChild(title);
    statusEl = el('span', { id: 'lsb-status' }, 'connecting…');
    head.appendChild(statusEl);
    // Always there, and the way back on phones, where the panel covers the launcher.
    var closeBtn = el('button', { id: 'lsb-close', type: 'button', 'aria-label': 'Close chat', title: 'Close' }, '\u00d7');
    head.appendChild(closeBtn);
    log = el('div', { id: 'lsb-log', 'aria-live': 'polite' });
    moreBtn = el('button', { id: 'lsb-more', type: 'button' }, 'Earlier messages');
    moreBtn.onclick = function () { send({ action: 'history', before: state.historyNext }); };
    log.appendChild(moreBtn);
    typingEl = el('div', { id: 'lsb-typing' });
    errorEl = el('div', { id: 'lsb-error', role: 'alert' });
    identifyEl = el('form', { id: 'lsb-identify' });
    identifyEl.appendChild(el('div', null, 'Tell us who you are (optional):'));
    var nameIn = el('input', { id: 'lsb-name', placeholder: 'Name', autocomplete: 'name' });
    var emailIn = el('input', { id: 'lsb-email', placeholder: 'Email', type: 'email', autocomplete: 'email' });
    identifyEl.appendChild(nameIn);
    identifyEl.appendChild(emailIn);
    identifyEl.appendChild(el('button', { type: 'submit', id: 'lsb-identify-send' }, 'Start chat'));
    identifyEl.onsubmit = function (ev) {
      ev.preventDefault();
      if (send({ action: 'identify', name: nameIn.value.trim(), email: emailIn.value.trim() })) {
        identifyEl.setAttribute('data-state', 'sent');
      }
    };
    buildOfflineForm();
    var form = el('form', { id: 'lsb-form' });
    input = el('input', { id: 'lsb-input', placeholder: 'Type a message…', autocomplete: 'off', maxlength: '4000' });
    form.appendChild(input);
    form.appendChild(el('button', { id: 'lsb-send', type: 'submit' }, 'Send'));
    form.onsubmit = function (ev) { ev.preventDefault(); sendMessage(input.value); };
    input.addEventListener('input', onTyping);
    // The visitor's id, to cite in a privacy request (shown once the session names it).
    privacyEl = el('div', { id: 'lsb-privacy' }, 'Your visitor id: ');
    visitorIdEl = el('span', { id: 'lsb-visitor-id' });
    var copyBtn = el('button', { id: 'lsb-copy', type: 'button', title: 'Copy your visitor id' }, 'Copy');
    copyBtn.onclick = function () { copyText(state.visitorId || '', copyBtn); };
    privacyEl.appendChild(visitorIdEl);
    privacyEl.appendChild(copyBtn);
    panel.appendChild(head);
    panel.appendChild(log);
    panel.appendChild(typingEl);
    panel.appendChild(errorEl);
    panel.appendChild(identifyEl);
    panel.appendChild(offlineEl);
    panel.appendChild(form);
    panel.appendChild(privacyEl);
    var toggle = el('button', { id: 'lsb-toggle', type: 'button', 'aria-expanded': 'false' }, 'Chat');
    toggle.onclick = function () {
      var open = root.classList.toggle('lsb-open');
      toggle.setAttribute('aria-expanded', String(open));
      save({ open: open });
      if (open) {
        askPresence();
        (root.classList.contains('lsb-away') ? offlineFields.name.input : input).focus();
      }
    };
    closeBtn.onclick = function () { toggle.click(); toggle.focus(); };
    root.appendChild(panel);
    root.appendChild(toggle);
    document.body.appendChild(root);
    followVisualViewport(panel);
    if (load().open) { root.classList.add('lsb-open'); toggle.setAttribute('aria-expanded', 'true'); }
    if (load().identified) { identifyEl.style.display = 'none'; }
  }

  // followVisualViewport: on a phone the panel fills the screen, but the
  // on-screen keyboard (like a pinch zoom) shrinks only the visual viewport,
  // not the layout viewport that position:fixed uses (iOS Safari, and Chrome
  // since 108), so the composer would sit under the keyboard. While full
  // screen, the panel takes the visual viewport's place and size instead.
  function followVisualViewport(panel) {
    var vv = window.visualViewport, full = window.matchMedia && window.matchMedia(FULL_SCREEN);
    if (!vv || !full) { return; }
    function fit() {
      var st = panel.style;
      if (!full.matches) { st.top = st.left = st.width = st.height = ''; return; }
      st.top = vv.offsetTop + 'px';
      st.left = vv.offsetLeft + 'px';
      st.width = vv.width + 'px';
      st.height = vv.height + 'px';
    }
    vv.addEventListener('resize', fit);
    vv.addEventListener('scroll', fit);
    if (full.addEventListener) { full.addEventListener('change', fit); }
    fit();
  }

  // buildOfflineForm: what the panel shows, above the composer and in place of
  // the empty log and the identify form, when no agent is online and the
  // visitor has no conversation yet.
  function buildOfflineForm() {
    offlineEl = el('form', { id: 'lsb-offline', novalidate: '' });
    offlineEl.appendChild(el('p', null, "We're away right now. Leave a message and we'll reply by email."));
    offlineFields = {};
    [
      ['name', 'Name', el('input', { id: 'lsb-offline-name', autocomplete: 'name', maxlength: '100' })],
      ['email', 'Email', el('input', { id: 'lsb-offline-email', type: 'email', autocomplete: 'email', maxlength: '254' })],
      ['message', 'Message', el('textarea', { id: 'lsb-offline-message', rows: '3', maxlength: '4000' })]
    ].forEach(function (f) {
      var id = f[2].getAttribute('id');
      var err = el('div', { id: id + '-error', 'class': 'lsb-field-error' });
      f[2].setAttribute('aria-describedby', id + '-error');
      offlineEl.appendChild(el('label', { 'for': id }, f[1]));
      offlineEl.appendChild(f[2]);
      offlineEl.appendChild(err);
      offlineFields[f[0]] = { input: f[2], error: err };
    });
    offlineSend = el('button', { id: 'lsb-offline-send', type: 'submit' }, 'Send message');
    offlineEl.appendChild(offlineSend);
    offlineEl.onsubmit = function (ev) {
      ev.preventDefault();
      var v = validateOffline();
      if (!v) { return; }
      // Identify first; the message goes out once the server names the visitor
      // (see 'identified'), so it is stored with the name and email.
      if (!send({ action: 'identify', name: v.name, email: v.email })) {
        fieldError('message', 'Not connected yet. Please try again in a moment.');
        return;
      }
      state.offline = v;
      offlineSend.disabled = true;
    };
  }

  function fieldError(name, msg) {
    var f = offlineFields[name];
    f.error.textContent = msg || '';
    f.input.setAttribute('aria-invalid', String(!!msg));
  }

  // A bare address, as the server takes it: something@host.tld, no spaces or
  // display name.
  var EMAIL = /^[^\s@<>()\[\],;:"]+@[^\s@<>()\[\],;:"]+\.[^\s@<>()\[\],;:".]+$/;

  // validateOffline shows each field's problem next to it and returns the
  // form's values, or null when one is wrong.
  function validateOffline() {
    var v = {
      name: offlineFields.name.input.value.trim(),
      email: offlineFields.email.input.value.trim(),
      text: offlineFields.message.input.value.trim()
    };
    var errs = {
      name: !v.name ? 'Please enter your name.' : '',
      email: !v.email ? 'Please enter your email address.' :
        (!EMAIL.test(v.email) || v.email.length > 254) ? 'Please enter a valid email address, like name@example.com.' : '',
      message: !v.text ? 'Please write a message.' : ''
    };
    var first = null;
    ['name', 'email', 'message'].forEach(function (k) {
      fieldError(k, errs[k]);
      if (errs[k] && !first) { first = offlineFields[k].input; }
    });
    if (first) { first.focus(); return null; }
    return v;
  }

  // offlineSent: the server identified the visitor of the offline form; the
  // message goes the usual way (clientMessageId, sentAt, ack and resend).
  function offlineSent() {
    var v = state.offline;
    state.offline = null;
    offlineSend.disabled = false;
    sendMessage(v.text);
    ['name', 'email', 'message'].forEach(function (k) { offlineFields[k].input.value = ''; fieldError(k, ''); });
    var n = el('div', { id: 'lsb-offline-thanks', 'class': 'lsb-notice', role: 'status' },
      "Thanks! We're away right now and will reply to " + v.email + '.');
    log.appendChild(n);
    log.scrollTop = log.scrollHeight;
    updateAway();
  }

  // hasConversation: the visitor has written or been written to (or is sending).
  function hasConversation() {
    return Object.keys(state.shown).length > 0 || Object.keys(state.outbox).length > 0;
  }

  // updateAway shows the offline form when nobody is online and the visitor
  // has no conversation yet (known once the latest history page arrived). It
  // takes the place of the identify form; a message from the composer starts
  // the conversation and hides it.
  function updateAway() {
    var away = state.agentsOnline === false && state.historyLoaded && !hasConversation();
    root.classList.toggle('lsb-away', away || !!state.offline);
    if (state.agentsOnline === null) { return; }
    presenceEl.setAttribute('data-online', String(state.agentsOnline));
    presenceEl.textContent = state.agentsOnline ? 'Online' :
      hasConversation() ? "Away — we'll reply soon" : 'Away — leave a message';
  }

  // askPresence asks whether an agent is online. The server counts it in the
  // history budget, so opening and closing the panel quickly asks once.
  var presenceAsked = 0;
  function askPresence(force) {
    if (!force && Date.now() - presenceAsked < 10 * 1000) { return; }
    if (send({ action: 'presence' })) { presenceAsked = Date.now(); }
  }

  function showVisitorId(id) {
    visitorIdEl.textContent = id || '';
    privacyEl.style.display = id ? 'block' : 'none';
  }

  // copyText puts text on the clipboard (or, where that is refused, selects it
  // for the visitor to copy) and says so on the button.
  function copyText(text, btn) {
    function done(ok) {
      btn.textContent = ok ? 'Copied' : 'Select and copy';
      setTimeout(function () { btn.textContent = 'Copy'; }, 2000);
    }
    function fallback() {
      var r = document.createRange();
      r.selectNodeContents(visitorIdEl);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(r);
      var ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { /* unsupported */ }
      done(ok);
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, fallback);
    } else {
      fallback();
    }
  }

  // setStatus: the connection's state. Once connected the header shows
  // presence instead.
  function setStatus(s) { statusEl.textContent = s === 'online' ? '' : s; root.setAttribute('data-status', s); }

  function showError(msg) {
    errorEl.textContent = msg;
    errorEl.style.display = msg ? 'block' : 'none';
  }

  function timeOf(iso) {
    var d = new Date(iso);
    return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function nearBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 60; }

  // render shows a stored message once, in createdAt order.
  function render(m) {
    if (!m || !m.id) { return; }
    var kind = (m.author && m.author.kind) || 'system';
    var e = state.shown[m.id];
    if (!e) {
      e = el('div', { 'class': 'lsb-msg lsb-' + kind });
      e.appendChild(el('span', { 'class': 'lsb-text' }));
      e.appendChild(el('span', { 'class': 'lsb-meta' }));
      state.shown[m.id] = e;
    }
    e.setAttribute('data-id', m.id);
    e.setAttribute('data-author', kind);
    e.setAttribute('data-created', m.createdAt || '');
    e.setAttribute('data-state', 'sent');
    e.querySelector('.lsb-text').textContent = m.text;
    var who = kind === 'visitor' ? '' : (m.author.name || (kind === 'bot' ? 'Bot' : 'Agent')) + ' · ';
    e.querySelector('.lsb-meta').textContent = who + timeOf(m.createdAt) + (kind === 'visitor' ? ' ✓' : '');
    insertOrdered(e);
  }

  function insertOrdered(e) {
    var stick = nearBottom();
    var created = e.getAttribute('data-created');
    var nodes = log.querySelectorAll('.lsb-msg[data-created]');
    var before = null;
    for (var i = nodes.length - 1; i >= 0; i--) {
      var c = nodes[i].getAttribute('data-created');
      if (nodes[i] === e) { continue; }
      if (c && created && c > created) { before = nodes[i]; } else { break; }
    }
    if (before) { log.insertBefore(e, before); } else if (e.parentNode !== log) { log.appendChild(e); }
    if (stick) { log.scrollTop = log.scrollHeight; }
  }

  // ---------------------------------------------------------------- protocol
  function send(frame) {
    if (!state.ws || state.ws.readyState !== 1) { return false; }
    state.ws.send(JSON.stringify(frame));
    return true;
  }

  // consentChoice is the visitor's stored analytics choice: true, false or null.
  function consentChoice() {
    var c = load().consent;
    return typeof c === 'boolean' ? c : null;
  }

  // analyticsAllowed: usage data may be sent. An explicit choice decides; without
  // one, only when the tenant does not require consent.
  function analyticsAllowed() {
    var c = consentChoice();
    return c === null ? !state.consentRequired : c;
  }

  // setConsent stores the visitor's choice; the next page view follows it.
  function setConsent(c) { save({ consent: !!c }); }

  // Usage data (privacy policy, section 2): the page's path, referrer and time on
  // page, sent once when the visitor leaves or hides the page, if analytics are
  // allowed then.
  var pageStart = Date.now(), pageReported = false;
  function reportPageView() {
    if (pageReported || !analyticsAllowed()) { return; }
    pageReported = send({
      action: 'pageView', path: location.pathname, referrer: document.referrer || '',
      timeOnPageMs: Date.now() - pageStart, consent: true
    });
  }
  window.addEventListener('pagehide', reportPageView);
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'hidden') { reportPageView(); }
  });

  function newId() {
    var a = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return 'c' + Date.now().toString(36) + Array.prototype.map.call(a, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }

  function sendMessage(text) {
    text = (text || '').trim();
    if (!text) { return; }
    var cmid = newId();
    var e = el('div', { 'class': 'lsb-msg lsb-visitor', 'data-state': 'pending', 'data-client-id': cmid });
    e.appendChild(el('span', { 'class': 'lsb-text' }, text));
    e.appendChild(el('span', { 'class': 'lsb-meta' }, 'sending…'));
    log.appendChild(e);
    log.scrollTop = log.scrollHeight;
    state.pendingEls[cmid] = e;
    // sentAt, by the server's clock, keys the message: stored with one write,
    // and a resend (which carries the same sentAt) stores nothing twice.
    state.outbox[cmid] = { text: text, sentAt: Date.now() + state.clockOffset };
    input.value = '';
    stopTyping();
    sendOutbox(cmid);
    updateAway();
  }

  function sendOutbox(cmid) {
    var o = state.outbox[cmid];
    var f = { action: 'sendMessage', clientMessageId: cmid, text: o.text };
    if (o.sentAt) { f.sentAt = o.sentAt; }
    send(f);
  }

  function onTyping() {
    var now = Date.now();
    if (now - state.typingSent > 3000) {
      state.typingSent = now;
      send({ action: 'typing', state: 'start' });
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, 2500);
  }

  function stopTyping() {
    clearTimeout(state.typingTimer);
    if (state.typingSent) {
      state.typingSent = 0;
      send({ action: 'typing', state: 'stop' });
    }
  }

  var typingHide = null;
  function onFrame(f) {
    switch (f.type) {
      case 'ack': {
        var cmid = f.clientMessageId;
        delete state.outbox[cmid];
        var p = state.pendingEls[cmid];
        delete state.pendingEls[cmid];
        if (f.message && f.message.id) {
          if (p && !state.shown[f.message.id]) { state.shown[f.message.id] = p; }
          else if (p && state.shown[f.message.id] !== p) { p.parentNode && p.parentNode.removeChild(p); }
          render(f.message);
        }
        showError('');
        break;
      }
      case 'message':
        render(f.message);
        updateAway(); // a first message makes a conversation
        if (f.message && f.message.author && f.message.author.kind !== 'visitor') { typingEl.textContent = ''; }
        break;
      case 'history':
        (f.messages || []).forEach(render);
        state.historyNext = f.next || null;
        moreBtn.style.display = state.historyNext ? 'block' : 'none';
        state.historyLoaded = true;
        updateAway();
        break;
      case 'presence':
        state.agentsOnline = !!f.agentsOnline;
        updateAway();
        break;
      case 'typing':
        if (f.author && f.author.kind !== 'visitor') {
          clearTimeout(typingHide);
          typingEl.textContent = f.state === 'start' ? (f.author.name || 'Agent') + ' is typing…' : '';
          if (f.state === 'start') { typingHide = setTimeout(function () { typingEl.textContent = ''; }, 8000); }
        }
        break;
      case 'identified':
        save({ identified: true });
        identifyEl.style.display = 'none';
        if (state.offline) { offlineSent(); }
        break;
      case 'pong':
        root.setAttribute('data-last-pong', new Date().toISOString());
        break;
      case 'error':
        var o = f.clientMessageId && state.outbox[f.clientMessageId];
        if (o && o.sentAt && f.code === 'invalid') {
          // A clock the server refused: the refused frame stored nothing, so
          // resending without sentAt (deduplicated by its id alone) is safe.
          delete o.sentAt;
          sendOutbox(f.clientMessageId);
          break;
        }
        showError(f.message || 'Something went wrong');
        if (f.clientMessageId && state.pendingEls[f.clientMessageId]) {
          var fe = state.pendingEls[f.clientMessageId];
          fe.setAttribute('data-state', 'failed');
          fe.querySelector('.lsb-meta').textContent = 'not sent: ' + (f.message || f.code);
          delete state.pendingEls[f.clientMessageId];
          delete state.outbox[f.clientMessageId];
        }
        if (f.code === 'invalid' && identifyEl.getAttribute('data-state') === 'sent' && !f.clientMessageId) {
          identifyEl.removeAttribute('data-state');
        }
        if (state.offline && !f.clientMessageId) {
          // The identify of the offline form was refused (say, "invalid email").
          state.offline = null;
          offlineSend.disabled = false;
          fieldError(/email/.test(f.message || '') ? 'email' : /name/.test(f.message || '') ? 'name' : 'message', f.message || 'Something went wrong');
          updateAway();
        }
        if (f.code === 'unauthorized') { save({ token: null }); state.token = null; state.ws && state.ws.close(); }
        break;
      default:
        if (f.message === 'Internal server error' || f.message === 'Forbidden') { showError('Something went wrong, please retry.'); }
    }
  }

  function session() {
    var body = { widgetKey: WIDGET_KEY };
    if (state.token) { body.visitorToken = state.token; }
    var asked = Date.now();
    return fetch(API + '/widget/v1/session', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (j) {
        if (!res.ok) {
          var err = new Error(j.detail || j.title || j.message || ('session failed: ' + res.status));
          err.status = res.status;
          throw err;
        }
        return j;
      });
    }).then(function (j) {
      state.token = j.visitorToken;
      state.visitorId = j.visitorId;
      state.wsUrl = j.websocketUrl;
      state.consentRequired = j.analyticsConsent === 'required';
      if (j.serverTime) { state.clockOffset = j.serverTime - Math.round((asked + Date.now()) / 2); }
      save({ token: j.visitorToken, visitorId: j.visitorId });
      root.setAttribute('data-visitor', j.visitorId);
      showVisitorId(j.visitorId);
    });
  }

  function connect() {
    if (state.stopped) { return; }
    clearTimeout(state.retryTimer);
    setStatus('connecting…');
    // The page coming back online may connect again while a session is
    // pending: the older answer then opens nothing.
    var gen = ++state.gen;
    session().then(function () {
      if (gen === state.gen && !state.stopped) { open(); }
    }, function (err) {
      if (gen !== state.gen) { return; }
      if (err.status === 401 && state.token) { state.token = null; save({ token: null }); }
      showError(err.status === 403 ? 'This site may not use this chat.' : 'Cannot reach chat, retrying…');
      retry();
    });
  }

  function open() {
    var opened = false;
    var ws = new WebSocket(state.wsUrl + (state.wsUrl.indexOf('?') < 0 ? '?' : '&') + 'token=' + encodeURIComponent(state.token));
    state.ws = ws;
    // A replaced socket's events are ignored (and its close leaves the live
    // socket's ping alone).
    ws.onopen = function () {
      if (state.ws !== ws) { return; }
      opened = true;
      state.backoff = 1000;
      setStatus('online');
      showError('');
      send({ action: 'history' });
      askPresence(true);
      // An offline form whose identify went unanswered: identifying again is harmless.
      if (state.offline) { send({ action: 'identify', name: state.offline.name, email: state.offline.email }); }
      // Resend what was not acked: the same clientMessageId stores nothing twice.
      for (var cmid in state.outbox) { sendOutbox(cmid); }
      clearInterval(state.pingTimer);
      state.pingTimer = setInterval(function () { send({ action: 'ping' }); }, PING_MS);
    };
    ws.onmessage = function (ev) {
      if (state.ws !== ws) { return; }
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      onFrame(f);
    };
    ws.onclose = function () {
      if (state.ws !== ws) { return; }
      clearInterval(state.pingTimer);
      state.ws = null;
      setStatus('offline');
      // Refused before opening: the token may have expired; the next session renews it.
      if (!opened) { showError('Reconnecting…'); }
      retry();
    };
  }

  function retry() {
    if (state.stopped) { return; }
    var wait = Math.min(state.backoff, MAX_BACKOFF_MS);
    state.backoff = Math.min(state.backoff * 2, MAX_BACKOFF_MS);
    state.retryTimer = setTimeout(connect, wait / 2 + Math.random() * wait / 2);
  }

  function start() {
    if (!WIDGET_KEY || !API) {
      console.error('LiveSupportBot: data-widget-key and data-api are required');
      return;
    }
    buildUI();
    state.token = load().token || null;
    connect();
    // Agents come and go: an open panel asks again every minute.
    setInterval(function () { if (root.classList.contains('lsb-open')) { askPresence(true); } }, PRESENCE_MS);
    // Reconnect at once when the page comes back online or into view.
    window.addEventListener('online', function () { if (!state.ws) { state.backoff = 1000; connect(); } });
  }

  window.LiveSupportBot = {
    open: function () { if (!root.classList.contains('lsb-open')) { document.getElementById('lsb-toggle').click(); } },
    send: sendMessage,
    stop: function () { state.stopped = true; state.ws && state.ws.close(); },
    visitorId: function () { return state.visitorId; },
    consent: function (c) {
      if (arguments.length) { setConsent(c); }
      return consentChoice();
    }
  };

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
