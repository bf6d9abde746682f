/*
 * Agent console for the LiveSupportBot admin API: list open conversations,
 * read one, reply, close. It polls; the API key is kept in sessionStorage only.
 */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var state = { api: '', key: '', selected: null, shown: {}, timer: null, busy: false };

  $('api-base').value = sessionStorage.getItem('lsb-console-api') || (location.origin + '/dev');
  $('api-key').value = sessionStorage.getItem('lsb-console-key') || '';
  $('agent-name').value = sessionStorage.getItem('lsb-console-agent') || 'Agent';

  function notice(msg) { $('notice').textContent = msg || ''; $('notice').style.display = msg ? 'block' : 'none'; }

  function call(method, path, body, token) {
    var headers = { authorization: 'Bearer ' + (token || state.key) };
    if (body) { headers['content-type'] = 'application/json'; }
    return fetch(state.api + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined })
      .then(function (res) {
        if (res.status === 204) { return null; }
        return res.json().catch(function () { return {}; }).then(function (j) {
          if (!res.ok) { throw new Error((j.title || 'Error') + (j.detail ? ': ' + j.detail : '') + ' (' + res.status + ')'); }
          return j;
        });
      });
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text != null) { e.textContent = text; }
    return e;
  }

  function when(iso) { var d = new Date(iso); return isNaN(d) ? '' : d.toLocaleString(); }

  function loadConversations() {
    return call('GET', '/v1/conversations?status=open&limit=50').then(function (j) {
      var ul = $('conversations');
      ul.textContent = '';
      if (!j.items.length) { ul.appendChild(el('li', 'empty', 'No open conversations.')); }
      j.items.forEach(function (c) {
        var li = el('li', c.id === state.selected ? 'active' : '');
        li.setAttribute('data-id', c.id);
        li.appendChild(el('div', null, (c.channel || 'widget') + ' · ' + c.contactId.slice(-6)));
        li.appendChild(el('div', 'when', when(c.lastActivityAt)));
        li.onclick = function () { select(c.id); };
        ul.appendChild(li);
      });
    });
  }

  function select(id) {
    state.selected = id;
    state.shown = {};
    $('messages').textContent = '';
    $('thread-title').textContent = 'Conversation ' + id;
    $('reply-text').disabled = $('reply-send').disabled = $('close-conversation').disabled = false;
    Array.prototype.forEach.call(document.querySelectorAll('#conversations li'), function (li) {
      li.classList.toggle('active', li.getAttribute('data-id') === id);
    });
    loadMessages();
  }

  function loadMessages() {
    var id = state.selected;
    if (!id) { return Promise.resolve(); }
    var all = [];
    function page(cursor) {
      return call('GET', '/v1/conversations/' + encodeURIComponent(id) + '/messages?limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''))
        .then(function (j) { all = all.concat(j.items); return j.next ? page(j.next) : all; });
    }
    return page(null).then(function (msgs) {
      if (state.selected !== id) { return; }
      msgs.sort(function (a, b) { return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0; });
      var box = $('messages');
      var stick = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
      msgs.forEach(function (m) {
        if (state.shown[m.id]) { return; }
        var kind = m.author.kind;
        var e = el('div', 'msg ' + kind);
        e.setAttribute('data-id', m.id);
        e.setAttribute('data-author', kind);
        e.appendChild(el('span', 'text', m.text));
        e.appendChild(el('span', 'meta', (m.author.name || kind) + ' · ' + when(m.createdAt)));
        box.appendChild(e);
        state.shown[m.id] = true;
      });
      if (stick) { box.scrollTop = box.scrollHeight; }
    });
  }

  function tick() {
    if (state.busy || !state.key) { return; }
    state.busy = true;
    Promise.all([loadConversations(), loadMessages()]).then(function () { notice(''); }, function (e) { notice(e.message); })
      .then(function () { state.busy = false; });
  }

  $('connect').onclick = function () {
    state.api = $('api-base').value.replace(/\/+$/, '');
    state.key = $('api-key').value.trim();
    sessionStorage.setItem('lsb-console-api', state.api);
    sessionStorage.setItem('lsb-console-key', state.key);
    clearInterval(state.timer);
    state.timer = setInterval(tick, 1000);
    tick();
  };

  $('agent-name').onchange = function () { sessionStorage.setItem('lsb-console-agent', $('agent-name').value); };

  $('reply').onsubmit = function (ev) {
    ev.preventDefault();
    var text = $('reply-text').value.trim();
    if (!text || !state.selected) { return; }
    $('reply-send').disabled = true;
    var key = 'r' + Date.now() + Math.random().toString(36).slice(2);
    fetch(state.api + '/v1/conversations/' + encodeURIComponent(state.selected) + '/messages', {
      method: 'POST',
      headers: { authorization: 'Bearer ' + state.key, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ text: text, agentName: $('agent-name').value.trim() || 'Agent' })
    }).then(function (res) {
      return res.json().then(function (j) {
        if (!res.ok) { throw new Error((j.title || 'Error') + (j.detail ? ': ' + j.detail : '')); }
        $('reply-text').value = '';
        return loadMessages();
      });
    }).catch(function (e) { notice(e.message); }).then(function () { $('reply-send').disabled = false; });
  };

  $('close-conversation').onclick = function () {
    if (!state.selected) { return; }
    call('PATCH', '/v1/conversations/' + encodeURIComponent(state.selected), { status: 'closed' }).then(function () {
      state.selected = null;
      $('messages').textContent = '';
      $('thread-title').textContent = 'Conversation closed';
      $('reply-text').disabled = $('reply-send').disabled = $('close-conversation').disabled = true;
      return loadConversations();
    }).catch(function (e) { notice(e.message); });
  };

  // Slack's install is bound to this browser: the API's answer sets a cookie the
  // OAuth callback checks, so the console fetches the link (same site as the
  // API) and then opens it here (docs/SLACK.md).
  $('connect-slack').onclick = function () {
    state.api = $('api-base').value.replace(/\/+$/, '');
    state.key = $('api-key').value.trim();
    call('GET', '/v1/integrations/slack/install?redirect=false').then(function (j) {
      location.assign(j.url);
    }).catch(function (e) { notice(e.message); });
  };

  $('show-setup').onclick = function () { var s = $('setup'); s.style.display = s.style.display === 'block' ? 'none' : 'block'; };

  $('create-tenant').onclick = function () {
    state.api = $('api-base').value.replace(/\/+$/, '');
    call('POST', '/v1/tenants', { name: $('tenant-name').value.trim() }, $('platform-token').value.trim()).then(function (j) {
      var out = $('setup-result');
      out.textContent = '';
      out.appendChild(el('div', null, 'Tenant ' + j.tenant.id + ' created. Its API key is filled in above (shown once; keep it).'));
      var a = el('a', null, 'Open the demo page with this widget key');
      a.href = 'demo.html?key=' + encodeURIComponent(j.tenant.widgetKey) + '&api=' + encodeURIComponent(state.api);
      a.target = '_blank';
      a.id = 'demo-link';
      out.appendChild(a);
      $('api-key').value = j.apiKey.key;
      $('connect').click();
    }).catch(function (e) { notice(e.message); });
  };

  if ($('api-key').value) { $('connect').click(); }
})();
