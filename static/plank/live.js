// Plank's live client: one WebSocket per tab to /ws/live/, no build step. Loaded after htmx.
//
// - Elements that show data for a key declare it ({% live_attrs %}: data-live-key="media/42"
//   plus hx-get / hx-trigger="live:refresh"). When an "invalidate" frame names a prefix of that
//   key the element gets a "live:refresh" event (htmx refetches it). Bursts are coalesced: keys
//   are collected for ~30 ms, then each element is refreshed once, and an element inside another
//   one being refreshed is skipped (the outer swap replaces it anyway).
// - "set" frames update [data-live-set="<key path>"] elements in place: [data-field="name"] gets
//   the text of data[name] (data-format: percent, bytes, rate, eta), [data-bind-width="name"]
//   a width of data[name] * 100 %, [data-bind-value="name"] a value (<progress>). The server
//   coalesces them per tick: {"type":"set","key","data"} for one value, {"type":"set",
//   "values":[{"key","data"},...]} for several.
// - "watch": the page tells the server the keys it shows (every data-live-key and data-live-set
//   on the page) on connect and whenever a swap adds or removes such elements; the server then
//   sends this socket only the frames under those keys. A long list is folded into the keys'
//   first parts, so the frame stays under the server's 4 KB limit.
// - The socket reconnects with full-jitter exponential backoff (1 s base, 30 s cap) and says
//   ?since=<last seq seen> so the server replays what was missed; "resync" refreshes every live
//   element. Heartbeat: a ping every 15 s; no frame within 10 s after it means the connection is
//   dead: close it and reconnect. Coming back to the tab or back online reconnects at once.
// - #live-badge shows data-state="live" / "reconnecting" / "offline".
// - Close codes: 4401 means "not logged in": no more retries until the page is reloaded.
//   4003 (a binary frame) and 4009 (a frame over 4 KB) mean this page sent what the server
//   refuses, 4500 that the server could not read its outbox, 4429 that this page fell behind
//   its frames (after a "resync"): reconnect with backoff, as for any other close (the server
//   never sends 1003/1009/1011).
//
// window.plankLive exposes the state for tests and the console.
(function () {
  "use strict";
  if (window.plankLive || typeof WebSocket === "undefined") return;

  var BACKOFF_BASE = 1000;
  var BACKOFF_CAP = 30000;
  var PING_EVERY = 15000;
  var PONG_WITHIN = 10000;
  var COALESCE_MS = 30;
  var CLOSE_LOGGED_OUT = 4401;
  var CLOSE_REFUSED = { 4003: "unsupported data", 4009: "frame too big", 4429: "too slow" };
  var WATCH_MAX_CHARS = 3500;

  var live = {
    state: "connecting", // connecting | live | reconnecting | offline
    lastSeq: null, // the newest seq seen (hello / invalidate)
    socket: null,
    attempts: 0, // failed connections in a row
    loggedOut: false,
    frames: 0, // frames received, all sockets (tests)
    refreshes: 0, // live:refresh events sent (tests)
    watched: null, // the keys last sent in a "watch" frame (tests)
  };
  window.plankLive = live;

  var retryTimer = null;
  var pingTimer = null;
  var deadTimer = null;
  var flushTimer = null;
  var pendingKeys = [];
  var pendingAll = false;

  // The seq the page was rendered at, when the server wrote it ({% live_meta %}): a change
  // between the render and the socket's hello is then replayed instead of lost.
  var meta = document.querySelector('meta[name="plank-live-seq"]');
  if (meta && /^\d+$/.test(meta.content)) live.lastSeq = parseInt(meta.content, 10);

  // --- the badge --------------------------------------------------------------------------

  var LABELS = { connecting: "connecting", live: "live", reconnecting: "reconnecting", offline: "offline" };

  function setState(state, text) {
    live.state = state;
    var badge = document.getElementById("live-badge");
    if (!badge) return;
    badge.setAttribute("data-state", state);
    badge.textContent = text || LABELS[state] || state;
    badge.title = state === "live" ? "Live updates are on" : "Live updates: " + (text || state);
  }

  // --- the socket -------------------------------------------------------------------------

  function socketUrl() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    var url = scheme + "//" + window.location.host + "/ws/live/";
    if (live.lastSeq !== null) url += "?since=" + live.lastSeq;
    return url;
  }

  function isOpenOrOpening(ws) {
    return ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING);
  }

  function connect() {
    if (live.loggedOut) return;
    clearTimeout(retryTimer);
    retryTimer = null;
    if (isOpenOrOpening(live.socket)) return;
    var ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (err) {
      scheduleReconnect();
      return;
    }
    live.socket = ws;
    ws.onopen = function () {
      if (live.socket !== ws) return;
      live.watched = null;
      sendWatch(ws);
      startHeartbeat(ws);
    };
    ws.onmessage = function (event) {
      if (live.socket === ws) onFrame(ws, event.data);
    };
    ws.onclose = function (event) {
      if (live.socket !== ws) return; // an old socket we gave up on
      live.socket = null;
      stopHeartbeat();
      if (event.code === CLOSE_LOGGED_OUT) {
        live.loggedOut = true;
        setState("offline", "logged out");
        return;
      }
      if (CLOSE_REFUSED[event.code] && window.console) {
        console.warn("plank live: the server closed the socket: " + CLOSE_REFUSED[event.code]);
      }
      scheduleReconnect(); // 4500 (server error), network loss, restarts
    };
    ws.onerror = function () {
      // a close event follows
    };
  }

  function abandon(ws) {
    // Forget a socket now (its close handshake may hang on a dead connection), then close it.
    if (live.socket === ws) live.socket = null;
    stopHeartbeat();
    try {
      ws.close();
    } catch (err) {
      // already closed
    }
  }

  function scheduleReconnect() {
    if (live.loggedOut || retryTimer !== null) return;
    var ceiling = Math.min(BACKOFF_CAP, BACKOFF_BASE * Math.pow(2, live.attempts));
    var delay = Math.random() * ceiling; // full jitter
    live.attempts += 1;
    setState(navigator.onLine === false ? "offline" : "reconnecting");
    retryTimer = setTimeout(function () {
      retryTimer = null;
      connect();
    }, delay);
  }

  function reconnectNow() {
    if (live.loggedOut) return;
    if (live.socket && live.socket.readyState === WebSocket.OPEN) {
      ping(live.socket); // probably fine: prove it
      return;
    }
    if (live.socket && live.socket.readyState === WebSocket.CONNECTING) return;
    clearTimeout(retryTimer);
    retryTimer = null;
    connect();
  }

  // --- heartbeat --------------------------------------------------------------------------

  function ping(ws) {
    if (ws.readyState !== WebSocket.OPEN) return;
    try {
      ws.send('{"type":"ping"}');
    } catch (err) {
      abandon(ws);
      scheduleReconnect();
      return;
    }
    if (deadTimer === null) {
      deadTimer = setTimeout(function () {
        deadTimer = null;
        if (live.socket !== ws) return;
        abandon(ws);
        scheduleReconnect();
      }, PONG_WITHIN);
    }
  }

  function startHeartbeat(ws) {
    stopHeartbeat();
    pingTimer = setInterval(function () {
      ping(ws);
    }, PING_EVERY);
  }

  function stopHeartbeat() {
    clearInterval(pingTimer);
    clearTimeout(deadTimer);
    pingTimer = null;
    deadTimer = null;
  }

  // --- frames -----------------------------------------------------------------------------

  function onFrame(ws, text) {
    live.frames += 1;
    clearTimeout(deadTimer); // any frame proves the connection alive
    deadTimer = null;
    var frame;
    try {
      frame = JSON.parse(text);
    } catch (err) {
      return;
    }
    if (!frame || typeof frame !== "object") return;
    switch (frame.type) {
      case "hello":
        if (typeof frame.seq === "number") live.lastSeq = frame.seq;
        live.attempts = 0;
        setState("live");
        break;
      case "invalidate":
        if (typeof frame.seq === "number" && (live.lastSeq === null || frame.seq > live.lastSeq)) {
          live.lastSeq = frame.seq;
        }
        if (Array.isArray(frame.keys)) queueRefresh(frame.keys);
        break;
      case "resync":
        pendingAll = true;
        scheduleFlush();
        break;
      case "set":
        if (Array.isArray(frame.values)) {
          for (var v = 0; v < frame.values.length; v++) applyValue(frame.values[v]);
        } else {
          applyValue(frame);
        }
        break;
      default:
        break; // pong, and whatever a newer server says
    }
  }

  // --- invalidations -> live:refresh ------------------------------------------------------

  function queueRefresh(keys) {
    for (var i = 0; i < keys.length; i++) {
      if (Array.isArray(keys[i]) && keys[i].length) pendingKeys.push(keys[i].map(String));
    }
    scheduleFlush();
  }

  function scheduleFlush() {
    if (flushTimer === null) flushTimer = setTimeout(flush, COALESCE_MS);
  }

  function isPrefix(prefix, parts) {
    if (prefix.length > parts.length) return false;
    for (var i = 0; i < prefix.length; i++) {
      if (prefix[i] !== parts[i]) return false;
    }
    return true;
  }

  function flush() {
    flushTimer = null;
    var all = pendingAll;
    var keys = pendingKeys;
    pendingAll = false;
    pendingKeys = [];
    var chosen = [];
    var elements = document.querySelectorAll("[data-live-key]");
    for (var i = 0; i < elements.length; i++) {
      var el = elements[i];
      var parts = (el.getAttribute("data-live-key") || "").split("/").filter(Boolean);
      if (!parts.length) continue;
      var hit = all;
      for (var k = 0; !hit && k < keys.length; k++) hit = isPrefix(keys[k], parts);
      if (hit) chosen.push(el);
    }
    for (var j = 0; j < chosen.length; j++) {
      if (insideAnother(chosen[j], chosen)) continue;
      refresh(chosen[j]);
    }
  }

  function insideAnother(el, chosen) {
    for (var node = el.parentElement; node; node = node.parentElement) {
      if (node.hasAttribute("data-live-key") && chosen.indexOf(node) !== -1) return true;
    }
    return false;
  }

  function refresh(el) {
    live.refreshes += 1;
    if (window.htmx && typeof window.htmx.trigger === "function") {
      window.htmx.trigger(el, "live:refresh");
    } else {
      el.dispatchEvent(new CustomEvent("live:refresh", { bubbles: true }));
    }
  }

  // --- watch: the keys this page shows -----------------------------------------------------

  function shownKeys() {
    var seen = {};
    var keys = [];
    var elements = document.querySelectorAll("[data-live-key], [data-live-set]");
    for (var i = 0; i < elements.length; i++) {
      var el = elements[i];
      var paths = [el.getAttribute("data-live-key"), el.getAttribute("data-live-set")];
      for (var p = 0; p < paths.length; p++) {
        var path = paths[p];
        if (path && !seen[path]) {
          seen[path] = true;
          keys.push(path);
        }
      }
    }
    keys.sort();
    return keys;
  }

  function toFrameKeys(paths) {
    return paths.map(function (path) {
      return path.split("/").filter(Boolean).map(function (part) {
        return /^(0|-?[1-9][0-9]*)$/.test(part) && part.length < 16 ? parseInt(part, 10) : part;
      });
    });
  }

  function watchFrame(paths) {
    var text = JSON.stringify({ type: "watch", keys: toFrameKeys(paths) });
    if (text.length <= WATCH_MAX_CHARS) return text;
    var folded = {};
    paths.forEach(function (path) {
      folded[path.split("/")[0]] = true;
    });
    return JSON.stringify({ type: "watch", keys: toFrameKeys(Object.keys(folded).sort()) });
  }

  function sendWatch(ws) {
    ws = ws || live.socket;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    var paths = shownKeys();
    var signature = paths.join("|");
    if (live.watched === signature) return;
    try {
      ws.send(watchFrame(paths));
      live.watched = signature;
    } catch (err) {
      // the close handler reconnects, and the new socket says it again
    }
  }

  var watchTimer = null;
  function scheduleWatch() {
    if (watchTimer === null) {
      watchTimer = setTimeout(function () {
        watchTimer = null;
        sendWatch();
      }, COALESCE_MS);
    }
  }

  // --- set frames -> fields ---------------------------------------------------------------

  function applyValue(value) {
    if (value && Array.isArray(value.key) && value.data && typeof value.data === "object") {
      applySet(value.key.map(String).join("/"), value.data);
    }
  }

  function applySet(path, data) {
    var roots = document.querySelectorAll("[data-live-set]");
    for (var i = 0; i < roots.length; i++) {
      if (roots[i].getAttribute("data-live-set") === path) fill(roots[i], data);
    }
  }

  function within(root, selector) {
    var found = Array.prototype.slice.call(root.querySelectorAll(selector));
    if (root.matches(selector)) found.unshift(root);
    return found;
  }

  function has(data, name) {
    return name && Object.prototype.hasOwnProperty.call(data, name);
  }

  function fill(root, data) {
    within(root, "[data-field]").forEach(function (el) {
      var name = el.getAttribute("data-field");
      if (has(data, name)) el.textContent = format(data[name], el.getAttribute("data-format"));
    });
    within(root, "[data-bind-width]").forEach(function (el) {
      var name = el.getAttribute("data-bind-width");
      var value = Number(data[name]);
      if (has(data, name) && isFinite(value)) {
        el.style.width = Math.max(0, Math.min(100, value * 100)).toFixed(2) + "%";
      }
    });
    within(root, "[data-bind-value]").forEach(function (el) {
      var name = el.getAttribute("data-bind-value");
      if (has(data, name) && data[name] !== null) el.value = data[name];
    });
  }

  function bytes(n) {
    var units = ["B", "KB", "MB", "GB", "TB", "PB"];
    var i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) {
      n /= 1024;
      i += 1;
    }
    return (i === 0 || Math.abs(n) >= 100 ? Math.round(n) : n.toFixed(1)) + " " + units[i];
  }

  function eta(seconds) {
    if (!isFinite(seconds) || seconds < 0) return "∞";
    seconds = Math.round(seconds);
    var d = Math.floor(seconds / 86400);
    var h = Math.floor((seconds % 86400) / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + m + "m";
    if (m) return m + "m " + s + "s";
    return s + "s";
  }

  function format(value, how) {
    if (value === null || value === undefined) return "—";
    var n = Number(value);
    switch (how) {
      case "percent":
        return isFinite(n) ? (n * 100).toFixed(n > 0 && n < 0.1 ? 1 : 0) + "%" : "—";
      case "bytes":
        return isFinite(n) ? bytes(n) : "—";
      case "rate":
        return isFinite(n) ? bytes(n) + "/s" : "—";
      case "eta":
        return eta(n);
      default:
        return String(value);
    }
  }

  // --- wiring -----------------------------------------------------------------------------

  // Swaps add and remove live elements (endless scroll, refreshed partials): say what the page
  // shows now. htmx:afterSettle covers htmx swaps; the observer covers everything else.
  document.addEventListener("htmx:afterSettle", scheduleWatch);
  if (typeof MutationObserver !== "undefined") {
    var hasElement = function (nodes) {
      for (var n = 0; n < nodes.length; n++) if (nodes[n].nodeType === 1) return true;
      return false;
    };
    new MutationObserver(function (records) {
      for (var i = 0; i < records.length; i++) {
        // Elements only: the text that set frames write changes no key.
        if (hasElement(records[i].addedNodes) || hasElement(records[i].removedNodes)) {
          scheduleWatch();
          return;
        }
      }
    }).observe(document.documentElement, { childList: true, subtree: true });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") reconnectNow();
  });
  window.addEventListener("online", reconnectNow);
  window.addEventListener("offline", function () {
    setState("offline");
  });
  window.addEventListener("pagehide", function (event) {
    if (!event.persisted || !live.socket) return;
    var ws = live.socket; // into the back/forward cache: let the socket go
    abandon(ws);
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) reconnectNow();
  });

  live.connect = reconnectNow;
  live.refreshKeys = queueRefresh; // refreshKeys([["media", 42]])
  live.refreshAll = function () {
    pendingAll = true;
    scheduleFlush();
  };
  live.applySet = function (key, data) {
    applySet(Array.isArray(key) ? key.map(String).join("/") : String(key), data);
  };
  live.format = format;
  live.sendWatch = sendWatch;

  connect();
})();
