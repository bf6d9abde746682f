/*
 * Agent console for the LiveSupportBot admin API and its agent WebSocket
 * (docs/CONTRACT.md, "Agent console over WebSocket").
 *
 * Connect asks for an agent token (POST /v1/agent-tokens) and opens the
 * WebSocket with it; a closed socket reconnects with a new token, with backoff.
 * The inbox is read when a connection opens (and once more a second later, as
 * the contract asks) and then kept current by the socket's events (no polling): new messages move their conversation to the top,
 * assignment and closing update or remove rows, visitors' typing shows live.
 * The API key is kept in sessionStorage only; nothing here logs it, a token or
 * a message's text.
 */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };

  var PING_MS = 5 * 60 * 1000;      // well inside API Gateway's 10-minute idle timeout
  var MAX_BACKOFF_MS = 10 * 1000;
  var AGENTS_MS = 60 * 1000;        // agents list (and relative times) refresh at most this often otherwise
  var INBOX_PAGES = 5;              // pages of 100 read on connect
  // Dispatch keeps a tenant's list of consoles for a second
  // (dispatch.AgentsCacheTTL): a new connection may miss that second's events,
  // so the inbox is read when the socket opens and once more after it.
  var CATCH_UP_MS = 1500;
  var TYPING_SHOW_MS = 6 * 1000;    // a visitor's "is typing" without a stop fades after this
  var TYPING_EVERY_MS = 3 * 1000;   // our own typing "start" at most this often
  var TYPING_IDLE_MS = 4 * 1000;    // our own typing "stop" after this long without a key

  var state = {
    api: '', key: '', name: '',
    me: { id: '', name: '' },        // the agent: the key's id and the name the token records
    gen: 0,                          // connection generation: a stale socket or answer is ignored
    ws: null, backoff: 1000, retryTimer: null, pingTimer: null,
    catchUpTimer: null, inboxRetry: null, // the inbox's second read, and its read again after a failure
    presence: 'online',
    convs: {},                       // conversation id -> conversation (plus the local _top)
    seen: {},                        // message ids of inbox events already applied
    fetching: {},                    // conversation id -> inbox events waiting for its GET
    typingNow: {}, typingTimers: {}, // conversation id -> "Ada is typing…"
    agents: [], agentsTimer: null, agentsLoading: false, agentsAgain: false,
    filter: 'all',
    selected: null, shown: {},
    myTyping: { conv: null, sentAt: 0, idle: null }
  };

  $('api-base').value = sessionStorage.getItem('lsb-console-api') || (location.origin + '/dev');
  $('api-key').value = sessionStorage.getItem('lsb-console-key') || '';
  $('agent-name').value = sessionStorage.getItem('lsb-console-agent') || 'Agent';

  var noticeTimer = null;
  function notice(msg, ms) {
    clearTimeout(noticeTimer);
    $('notice').textContent = msg || '';
    $('notice').style.display = msg ? 'block' : 'none';
    if (msg && ms) { noticeTimer = setTimeout(function () { notice(''); }, ms); }
  }

  function enc(s) { return encodeURIComponent(s); }

  // readSettings takes the API base and key from the header's fields.
  function readSettings() {
    state.api = $('api-base').value.replace(/\/+$/, '');
    state.key = $('api-key').value.trim();
  }

  // call makes an API request, with the API key unless headers name another
  // authorization, and answers the JSON body (null for 204); an error answer
  // rejects with its title, detail and status.
  function call(method, path, body, headers) {
    var h = { authorization: 'Bearer ' + state.key };
    if (body) { h['content-type'] = 'application/json'; }
    for (var k in headers || {}) { h[k] = headers[k]; }
    return fetch(state.api + path, { method: method, headers: h, body: body ? JSON.stringify(body) : undefined })
      .then(function (res) {
        if (res.status === 204) { return null; }
        return res.json().catch(function () { return {}; }).then(function (j) {
          if (!res.ok) {
            var err = new Error((j.title || 'Error') + (j.detail ? ': ' + j.detail : '') + ' (' + res.status + ')');
            err.status = res.status;
            throw err;
          }
          return j;
        });
      });
  }

  // pages reads a list route's items, following next up to max pages.
  function pages(path, max) {
    var all = [], n = 0;
    function page(cursor) {
      return call('GET', path + (cursor ? '&cursor=' + enc(cursor) : '')).then(function (j) {
        all = all.concat(j.items || []);
        return j.next && ++n < max ? page(j.next) : all;
      });
    }
    return page(null);
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text != null) { e.textContent = text; }
    return e;
  }

  function ms(iso) { var t = Date.parse(iso || ''); return isNaN(t) ? 0 : t; }
  function when(iso) { var d = new Date(iso); return isNaN(d) ? '' : d.toLocaleString(); }

  // shortTime: "now", "5 min", a time today, else a date.
  function shortTime(t) {
    if (!t) { return ''; }
    var d = Date.now() - t, at = new Date(t);
    if (d < 60 * 1000) { return 'now'; }
    if (d < 60 * 60 * 1000) { return Math.floor(d / 60000) + ' min'; }
    if (at.toDateString() === new Date().toDateString()) { return at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }); }
    return at.toLocaleDateString([], { month: 'short', day: 'numeric' });
  }

  // ---------------------------------------------------------------- connection

  function setConn(s, text) {
    $('conn-state').setAttribute('data-state', s);
    $('conn-state').textContent = text;
  }

  function wsSend(frame) {
    if (!state.ws || state.ws.readyState !== 1) { return false; }
    state.ws.send(JSON.stringify(frame));
    return true;
  }

  // disconnect drops the socket and any pending reconnect; answers of the old
  // generation are ignored from now on.
  function disconnect() {
    state.gen++;
    clearTimeout(state.retryTimer);
    clearInterval(state.pingTimer);
    clearInboxTimers();
    var ws = state.ws;
    state.ws = null;
    if (ws) { ws.close(); }
  }

  function connect() {
    readSettings();
    state.name = $('agent-name').value.trim() || 'Agent';
    sessionStorage.setItem('lsb-console-api', state.api);
    sessionStorage.setItem('lsb-console-key', state.key);
    sessionStorage.setItem('lsb-console-agent', state.name);
    disconnect();
    state.convs = {};
    state.seen = {};
    endThread('No conversation selected', true);
    setPresence('online', false);
    state.backoff = 1000;
    openSocket();
    clearInterval(state.agentsTimer);
    state.agentsTimer = setInterval(function () {
      if (state.ws) { loadAgents(); }
      render(); // relative times
    }, AGENTS_MS);
  }

  // openSocket gets a new token (one is good for 15 minutes and one connect)
  // and opens the socket with it.
  function openSocket() {
    var gen = ++state.gen;
    state.fetching = {}; // the inbox reads of this connection cover what those waited for
    clearTimeout(state.retryTimer);
    setConn('connecting', 'Connecting…');
    call('POST', '/v1/agent-tokens', { name: state.name }).then(function (t) {
      if (gen !== state.gen) { return; }
      state.me = { id: t.agentId, name: t.name || state.name };
      var url = t.websocketUrl;
      var ws = new WebSocket(url + (url.indexOf('?') < 0 ? '?' : '&') + 'token=' + enc(t.token));
      state.ws = ws;
      ws.onopen = function () {
        if (state.ws !== ws) { return; }
        state.backoff = 1000;
        setConn('online', 'Connected as ' + state.me.name);
        notice('');
        // The server records a new connection as online; an agent who chose
        // Away stays away across reconnects.
        wsSend({ action: 'presence', state: state.presence });
        clearInterval(state.pingTimer);
        state.pingTimer = setInterval(function () { wsSend({ action: 'ping' }); }, PING_MS);
        // Events flow from now on; the inbox and the open thread catch up on
        // what happened while we were away.
        loadInbox(gen);
        loadAgents();
        if (state.selected) { loadMessages(); }
        clearInboxTimers();
        state.catchUpTimer = setTimeout(function () {
          if (gen !== state.gen) { return; }
          loadInbox(gen);
          if (state.selected) { loadMessages(); }
        }, CATCH_UP_MS);
      };
      ws.onmessage = function (ev) {
        if (state.ws !== ws) { return; }
        var f;
        try { f = JSON.parse(ev.data); } catch (e) { return; }
        onFrame(f);
      };
      ws.onclose = function () {
        if (state.ws !== ws) { return; }
        state.ws = null;
        clearInterval(state.pingTimer);
        clearInboxTimers();
        retry();
      };
    }, function (e) {
      if (gen !== state.gen) { return; }
      notice(e.message);
      if (e.status === 401 || e.status === 403) { setConn('offline', 'Not connected'); return; } // a bad key: retrying will not help
      retry();
    });
  }

  // Leaving the page ends the socket at once, so the other agents see this
  // one offline now (a page kept in the back-forward cache would keep its
  // socket open); coming back to that page connects again.
  window.addEventListener('pagehide', function () {
    if (state.me.id) { state.left = true; disconnect(); setConn('offline', 'Not connected'); }
  });
  window.addEventListener('pageshow', function (ev) {
    if (ev.persisted && state.left) { state.left = false; connect(); }
  });

  function clearInboxTimers() {
    clearTimeout(state.catchUpTimer);
    clearTimeout(state.inboxRetry);
  }

  function retry() {
    var wait = state.backoff;
    state.backoff = Math.min(state.backoff * 2, MAX_BACKOFF_MS);
    setConn('offline', 'Reconnecting in ' + Math.round(wait / 1000) + ' s…');
    state.retryTimer = setTimeout(openSocket, wait);
  }

  function onFrame(f) {
    switch (f.type) {
      case 'inbox':
        if (f.event === 'message') { onInboxMessage(f); } else if (f.event === 'conversation') { onInboxConversation(f.conversation); }
        break;
      case 'typing':
        onVisitorTyping(f);
        break;
      case 'agent':
        onAgent(f);
        break;
      case 'presence':
        // The answer to our presence: the server has our state now.
        $('presence').setAttribute('data-agents-online', String(!!f.agentsOnline));
        ownState();
        renderAgents();
        break;
      case 'pong':
        $('conn-state').setAttribute('data-last-pong', new Date().toISOString());
        break;
      case 'error':
        notice(f.message || 'Something went wrong', 8000);
        break;
      default: // frames of API Gateway itself, and types this console does not know
    }
  }

  // ---------------------------------------------------------------- presence and agents

  function setPresence(p, send) {
    state.presence = p;
    $('presence').setAttribute('data-state', p);
    $('presence-online').setAttribute('aria-pressed', String(p === 'online'));
    $('presence-away').setAttribute('aria-pressed', String(p === 'away'));
    if (send) { wsSend({ action: 'presence', state: p }); }
    ownState();
    renderAgents();
  }

  // ownState: the server tells other agents of our presence, not us; our own
  // row follows our choice while connected (a list read just before our
  // presence frame would still say offline).
  function ownState() {
    state.agents.forEach(function (a) { if (a.id === state.me.id && state.ws) { a.state = state.presence; } });
  }

  function onAgent(f) {
    var known = false;
    state.agents.forEach(function (a) {
      if (a.id === f.agentId) { a.state = f.state; a.name = f.name || a.name; known = true; }
    });
    if (!known) { state.agents.push({ id: f.agentId, name: f.name, state: f.state }); }
    renderAgents();
    loadAgents();
  }

  function loadAgents() {
    // One read at a time; an event during it asks for one more.
    if (state.agentsLoading) { state.agentsAgain = true; return; }
    state.agentsLoading = true;
    var gen = state.gen;
    // One page: a tenant has few agents (the route takes no query).
    call('GET', '/v1/agents').then(function (j) {
      if (gen !== state.gen) { return; }
      state.agents = j.items || [];
      ownState();
      renderAgents();
      render();
    }, function (e) { notice(e.message, 8000); }).then(function () {
      state.agentsLoading = false;
      if (state.agentsAgain) { state.agentsAgain = false; loadAgents(); }
    });
  }

  function agentName(id) {
    for (var i = 0; i < state.agents.length; i++) {
      if (state.agents[i].id === id) { return state.agents[i].name || id; }
    }
    return id === state.me.id ? state.me.name : id;
  }

  function agentLabel(a) { return (a.name || a.id) + (a.id === state.me.id ? ' (you)' : ''); }

  function renderAgents() {
    var ul = $('agents');
    ul.textContent = '';
    state.agents.forEach(function (a) {
      var li = el('li');
      li.setAttribute('data-agent-id', a.id);
      li.setAttribute('data-state', a.state || 'offline');
      var dot = el('span', 'dot');
      dot.setAttribute('data-state', a.state || 'offline');
      dot.title = a.state || 'offline';
      li.appendChild(dot);
      li.appendChild(el('span', 'agent-name', agentLabel(a)));
      ul.appendChild(li);
    });
    renderAssignee();
  }

  // ---------------------------------------------------------------- inbox

  // loadInbox reads the open conversations (when a connection opens, and once
  // more after CATCH_UP_MS). Rows that events brought while it read are kept, and a newer last message known from
  // an event wins over the list's.
  function loadInbox(gen) {
    var started = Date.now();
    pages('/v1/conversations?status=open&limit=100', INBOX_PAGES).then(function (items) {
      if (gen !== state.gen) { return; }
      clearTimeout(state.inboxRetry); // a read after a failed one did what the retry would
      var fresh = {};
      items.forEach(function (c) { fresh[c.id] = merge(state.convs[c.id], c); });
      Object.keys(state.convs).forEach(function (id) {
        var old = state.convs[id];
        if (!fresh[id] && old._eventAt >= started) { fresh[id] = old; }
      });
      state.convs = fresh;
      if (state.selected && !fresh[state.selected]) { endThread('Conversation closed'); }
      render();
      renderThreadHead();
    }, function (e) {
      // Without the list the inbox shows only what events bring: read again
      // a little later (on this connection only). One retry at a time: the
      // first read and the catch-up may both fail.
      if (gen !== state.gen) { return; }
      notice(e.message);
      clearTimeout(state.inboxRetry);
      state.inboxRetry = setTimeout(function () { if (gen === state.gen) { loadInbox(gen); } }, 5000);
    });
  }

  // merge returns the conversation c as the server sent it, keeping what this
  // console knows that may be newer: its place at the top and a later message.
  function merge(old, c) {
    if (!old) { return c; }
    c._top = old._top;
    c._eventAt = old._eventAt;
    if (old.lastMessage && (!c.lastMessage || ms(old.lastMessage.createdAt) > ms(c.lastMessage.createdAt))) {
      c.lastMessage = old.lastMessage;
      c.unread = old.unread;
    }
    return c;
  }

  function sortTime(c) { return ms(c.lastMessage && c.lastMessage.createdAt) || ms(c.lastActivityAt); }
  function order(c) { return c._top || sortTime(c); }

  function onInboxMessage(f) {
    var id = f.conversationId, mid = f.message && f.message.id;
    if (!id) { return; }
    if (mid && state.seen[mid]) { return; } // delivered at least once: a repeat changes nothing
    var c = state.convs[id];
    if (!c) {
      // A conversation this console did not list (new, or past the pages read).
      if (state.fetching[id]) { state.fetching[id].push(f); return; }
      state.fetching[id] = [f];
      var gen = state.gen;
      call('GET', '/v1/conversations/' + enc(id)).then(function (conv) {
        // An answer of an old connection leaves the new one's queue alone.
        if (gen !== state.gen) { return; }
        var waiting = state.fetching[id] || [];
        delete state.fetching[id];
        if (conv.status === 'closed') { return; }
        state.convs[id] = merge(state.convs[id], conv);
        waiting.forEach(onInboxMessage);
        render();
      }, function () { if (gen === state.gen) { delete state.fetching[id]; } });
      return;
    }
    if (mid) { state.seen[mid] = true; }
    if (f.lastMessage) { c.lastMessage = f.lastMessage; }
    c.unread = f.unread || 0;
    // An event means this is now the latest conversation: it goes to the top
    // at once, even when its message's time (the sender's sentAt) is a little
    // behind another's.
    var top = 0;
    Object.keys(state.convs).forEach(function (k) { if (k !== id) { top = Math.max(top, order(state.convs[k])); } });
    c._top = Math.max(ms(c.lastMessage && c.lastMessage.createdAt), top + 1);
    c._eventAt = Date.now();
    if (f.message && f.message.author && f.message.author.kind === 'visitor') { clearVisitorTyping(id); }
    renderRow(c, true);
    if (state.selected === id) {
      showMessage(f.message);
      if (c.unread > 0) { markRead(c); }
    }
  }

  function onInboxConversation(c) {
    if (!c || !c.id) { return; }
    if (c.status === 'closed') {
      delete state.convs[c.id];
      clearVisitorTyping(c.id);
      if (state.selected === c.id) { endThread('Conversation closed'); }
      render();
      return;
    }
    state.convs[c.id] = merge(state.convs[c.id], c);
    state.convs[c.id]._eventAt = Date.now();
    render();
    if (state.selected === c.id) { renderThreadHead(); }
  }

  function onVisitorTyping(f) {
    var id = f.conversationId;
    if (!id) { return; }
    clearTimeout(state.typingTimers[id]);
    if (f.state === 'start') {
      var c = state.convs[id];
      state.typingNow[id] = ((f.author && f.author.name) || (c && c.contactName) || 'Visitor') + ' is typing…';
      state.typingTimers[id] = setTimeout(function () { clearVisitorTyping(id); typingChanged(id); }, TYPING_SHOW_MS);
    } else {
      clearVisitorTyping(id);
    }
    typingChanged(id);
  }

  // typingChanged shows a conversation's typing line in its row (and the
  // thread's header) without redrawing the list.
  function typingChanged(id) {
    var c = state.convs[id];
    if (c) { renderRow(c); }
  }

  function clearVisitorTyping(id) {
    clearTimeout(state.typingTimers[id]);
    delete state.typingTimers[id];
    delete state.typingNow[id];
  }

  function visitorName(c) {
    return c.contactName || c.contactEmail || ('Visitor ' + String(c.contactId || '').slice(-6));
  }

  function preview(c) {
    var m = c.lastMessage;
    if (!m) { return ''; }
    var who = '';
    if (m.authorKind === 'agent') { who = m.authorName && m.authorName !== state.me.name ? m.authorName + ': ' : 'You: '; }
    if (m.authorKind === 'bot') { who = (m.authorName || 'Bot') + ': '; }
    return who + m.text;
  }

  function matches(c) {
    if (state.filter === 'mine') { return !!state.me.id && c.assigneeId === state.me.id; }
    if (state.filter === 'unassigned') { return !c.assigneeId; }
    return true;
  }

  // render rebuilds the list from the loaded conversations: newest first,
  // filtered on this side. Events that change one row use renderRow.
  function render() {
    var all = Object.keys(state.convs).map(function (id) { return state.convs[id]; });
    var counts = { mine: 0, unassigned: 0, all: all.length };
    all.forEach(function (c) {
      if (c.assigneeId && c.assigneeId === state.me.id) { counts.mine++; }
      if (!c.assigneeId) { counts.unassigned++; }
    });
    ['mine', 'unassigned', 'all'].forEach(function (f) {
      $('filter-' + f).querySelector('.count').textContent = counts[f] ? String(counts[f]) : '';
    });
    var list = all.filter(matches).sort(function (a, b) {
      return order(b) - order(a) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
    });
    var ul = $('conversations');
    ul.textContent = '';
    if (!list.length) {
      ul.appendChild(el('li', 'empty', state.ws || all.length ? 'No open conversations here.' : 'Connect with an API key.'));
    }
    list.forEach(function (c) { ul.appendChild(row(c)); });
    $('thread-typing').textContent = (state.selected && state.typingNow[state.selected]) || '';
  }

  // rowOf is the list's row of conversation id, or null.
  function rowOf(id) {
    var rows = $('conversations').children;
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].getAttribute('data-id') === id) { return rows[i]; }
    }
    return null;
  }

  // renderRow redraws one conversation's row where it is or, with onTop, as
  // the first row (an event made it the latest: see onInboxMessage); the other
  // rows stay. Typing, a message or a read change neither the counts nor which
  // filter a conversation falls under.
  function renderRow(c, onTop) {
    if (state.selected === c.id) { $('thread-typing').textContent = state.typingNow[c.id] || ''; }
    if (!matches(c)) { return; }
    var ul = $('conversations'), old = rowOf(c.id), li = row(c);
    if (onTop) {
      if (old) { ul.removeChild(old); }
      var empty = ul.querySelector('li.empty');
      if (empty) { ul.removeChild(empty); }
      ul.insertBefore(li, ul.firstChild);
    } else if (old) {
      ul.replaceChild(li, old);
    }
  }

  function row(c) {
    var li = el('li', c.id === state.selected ? 'active' : '');
    li.setAttribute('data-id', c.id);
    var top = el('div', 'row-top');
    top.appendChild(el('span', 'name', visitorName(c)));
    var t = sortTime(c), w = el('span', 'when', shortTime(t));
    if (t) { w.title = new Date(t).toLocaleString(); }
    top.appendChild(w);
    li.appendChild(top);
    if (state.typingNow[c.id]) { li.appendChild(el('div', 'typing', state.typingNow[c.id])); }
    li.appendChild(el('div', 'preview', preview(c)));
    var meta = el('div', 'row-meta');
    meta.appendChild(el('span', 'channel', c.channel || 'widget'));
    if (c.assigneeId) { meta.appendChild(el('span', 'assignee', agentName(c.assigneeId))); }
    if (c.unread > 0) {
      var u = el('span', 'unread', String(c.unread));
      u.setAttribute('aria-label', c.unread + ' unread');
      meta.appendChild(u);
    }
    li.appendChild(meta);
    return li;
  }

  $('conversations').onclick = function (ev) {
    var li = ev.target.closest('li[data-id]');
    if (li) { select(li.getAttribute('data-id')); }
  };

  Array.prototype.forEach.call(document.querySelectorAll('#filters [data-filter]'), function (b) {
    b.onclick = function () {
      state.filter = b.getAttribute('data-filter');
      Array.prototype.forEach.call(document.querySelectorAll('#filters [data-filter]'), function (o) {
        o.setAttribute('aria-selected', String(o === b));
      });
      render();
    };
  });

  // ---------------------------------------------------------------- the open conversation

  function select(id) {
    if (state.selected !== id) { stopMyTyping(); }
    state.selected = id;
    state.shown = {};
    $('messages').textContent = '';
    $('reply-text').disabled = $('reply-send').disabled = $('close-conversation').disabled = false;
    $('assignee').disabled = $('assign-me').disabled = false;
    renderThreadHead();
    render();
    loadMessages();
    var c = state.convs[id];
    if (c && c.unread > 0) { markRead(c); }
  }

  // endThread leaves the open conversation (closed, or gone from the inbox);
  // its messages stay on screen, the controls do not.
  function endThread(title, clear) {
    stopMyTyping();
    state.selected = null;
    if (clear) { $('messages').textContent = ''; }
    $('thread-title').textContent = title;
    $('thread-sub').textContent = '';
    $('thread-typing').textContent = '';
    $('reply-text').disabled = $('reply-send').disabled = $('close-conversation').disabled = true;
    $('assignee').disabled = $('assign-me').disabled = true;
  }

  function renderThreadHead() {
    var c = state.selected && state.convs[state.selected];
    if (!c) { return; }
    $('thread-title').textContent = visitorName(c);
    var sub = [];
    if (c.contactEmail && c.contactEmail !== visitorName(c)) { sub.push(c.contactEmail); }
    sub.push(c.channel || 'widget');
    $('thread-sub').textContent = sub.join(' · ');
    $('thread-typing').textContent = state.typingNow[c.id] || '';
    $('assign-me').disabled = !state.me.id || c.assigneeId === state.me.id;
    renderAssignee();
  }

  function renderAssignee() {
    var sel = $('assignee'), c = state.selected && state.convs[state.selected];
    var current = (c && c.assigneeId) || '';
    sel.textContent = '';
    sel.appendChild(el('option', null, 'Unassigned')).value = '';
    var listed = false;
    state.agents.forEach(function (a) {
      var o = sel.appendChild(el('option', null, agentLabel(a)));
      o.value = a.id;
      if (a.id === current) { listed = true; }
    });
    if (current && !listed) { sel.appendChild(el('option', null, agentName(current))).value = current; }
    sel.value = current;
  }

  function patchConversation(id, body) {
    return call('PATCH', '/v1/conversations/' + enc(id), body).then(function (c) {
      // The answer is the conversation after the change; the event follows.
      if (c && c.id && c.status !== 'closed' && state.convs[c.id]) {
        state.convs[c.id] = merge(state.convs[c.id], c);
        render();
        if (state.selected === c.id) { renderThreadHead(); }
      }
      return c;
    });
  }

  function assign(agentId) {
    var id = state.selected;
    if (!id) { return; }
    patchConversation(id, { assigneeId: agentId }).catch(function (e) {
      notice(e.message);
      renderThreadHead(); // back to the assignee the server has
    });
  }

  $('assignee').onchange = function () { assign($('assignee').value); };
  $('assign-me').onclick = function () { if (state.me.id) { assign(state.me.id); } };

  function markRead(c) {
    c.unread = 0;
    renderRow(c);
    patchConversation(c.id, { read: true }).catch(function (e) { notice(e.message, 8000); });
  }

  function loadMessages() {
    var id = state.selected;
    if (!id) { return Promise.resolve(); }
    return pages('/v1/conversations/' + enc(id) + '/messages?limit=100', 50).then(function (msgs) {
      if (state.selected !== id) { return; }
      msgs.forEach(showMessage);
    }, function (e) { notice(e.message); });
  }

  // showMessage adds a message to the open thread once, in time order.
  function showMessage(m) {
    if (!m || !m.id || state.shown[m.id] || m.conversationId && m.conversationId !== state.selected) { return; }
    var box = $('messages');
    var stick = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    var kind = (m.author && m.author.kind) || 'system';
    var e = el('div', 'msg ' + kind);
    e.setAttribute('data-id', m.id);
    e.setAttribute('data-author', kind);
    e.setAttribute('data-t', String(ms(m.createdAt)));
    e.appendChild(el('span', 'text', m.text));
    e.appendChild(el('span', 'meta', ((m.author && m.author.name) || kind) + ' · ' + when(m.createdAt)));
    var before = null, t = ms(m.createdAt), nodes = box.querySelectorAll('.msg');
    for (var i = nodes.length - 1; i >= 0 && Number(nodes[i].getAttribute('data-t')) > t; i--) { before = nodes[i]; }
    box.insertBefore(e, before);
    state.shown[m.id] = true;
    if (stick) { box.scrollTop = box.scrollHeight; }
  }

  // ---------------------------------------------------------------- our typing and replies

  $('reply-text').addEventListener('input', function () {
    var id = state.selected;
    if (!id) { return; }
    var t = state.myTyping, now = Date.now();
    if (t.conv !== id || now - t.sentAt >= TYPING_EVERY_MS) {
      if (t.conv && t.conv !== id) { stopMyTyping(); }
      if (wsSend({ action: 'typing', conversationId: id, state: 'start' })) { t.conv = id; t.sentAt = now; }
    }
    clearTimeout(t.idle);
    t.idle = setTimeout(stopMyTyping, TYPING_IDLE_MS);
  });
  $('reply-text').addEventListener('blur', function () { stopMyTyping(); });

  function stopMyTyping() {
    var t = state.myTyping;
    clearTimeout(t.idle);
    if (t.conv) { wsSend({ action: 'typing', conversationId: t.conv, state: 'stop' }); }
    t.conv = null;
    t.sentAt = 0;
  }

  $('reply').onsubmit = function (ev) {
    ev.preventDefault();
    var text = $('reply-text').value.trim(), id = state.selected;
    if (!text || !id) { return; }
    stopMyTyping();
    $('reply-send').disabled = true;
    // One key per reply: a retried request stores it once.
    var key = 'r' + Date.now() + Math.random().toString(36).slice(2);
    call('POST', '/v1/conversations/' + enc(id) + '/messages', { text: text, agentName: state.me.name || state.name },
      { 'idempotency-key': key }).then(function (m) {
      $('reply-text').value = '';
      if (state.selected === id) { showMessage(m); }
    }).catch(function (e) { notice(e.message); }).then(function () { $('reply-send').disabled = !state.selected; });
  };

  $('close-conversation').onclick = function () {
    var id = state.selected;
    if (!id) { return; }
    patchConversation(id, { status: 'closed' }).then(function () {
      delete state.convs[id];
      if (state.selected === id) { endThread('Conversation closed', true); }
      render();
    }).catch(function (e) { notice(e.message); });
  };

  $('presence-online').onclick = function () { setPresence('online', true); };
  $('presence-away').onclick = function () { setPresence('away', true); };

  // ---------------------------------------------------------------- setup

  $('connect').onclick = connect;

  $('agent-name').onchange = function () { sessionStorage.setItem('lsb-console-agent', $('agent-name').value); };

  // Slack's install is bound to this browser: the API's answer sets a cookie the
  // OAuth callback checks, so the console fetches the link (same site as the
  // API) and then opens it here (docs/SLACK.md).
  $('connect-slack').onclick = function () {
    readSettings();
    call('GET', '/v1/integrations/slack/install?redirect=false').then(function (j) {
      location.assign(j.url);
    }).catch(function (e) { notice(e.message); });
  };

  $('show-setup').onclick = function () { var s = $('setup'); s.style.display = s.style.display === 'block' ? 'none' : 'block'; };

  $('create-tenant').onclick = function () {
    state.api = $('api-base').value.replace(/\/+$/, ''); // the key stays: the platform token authorizes this
    call('POST', '/v1/tenants', { name: $('tenant-name').value.trim() },
      { authorization: 'Bearer ' + $('platform-token').value.trim() }).then(function (j) {
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
