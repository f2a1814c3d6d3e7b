// Toasts for a person's notifications (plank/notifications.py), on every page they have open.
//
// The server pushes a "set" frame under the key "notify" to that person's sockets only; live.js
// writes its "toasts" field (a JSON list of {id, kind, text, url}) into the hidden
// [data-live-set="notify"] element of the user menu. A MutationObserver here notices the new
// text and shows each notification it has not shown yet as a toast: its text and a link, a
// dismiss button, gone by itself after 8 s (not while hovered or focused). The toasts sit in
// an aria-live="polite" region. Text is set with textContent, never as HTML. No inline script:
// the Content-Security-Policy allows only scripts from 'self'.
(function () {
  "use strict";
  var HIDE_AFTER = 8000;
  var MAX_SHOWN = 4;
  var shown = {};
  var region = null;

  function ensureRegion() {
    if (region && document.body.contains(region)) return region;
    region = document.createElement("div");
    region.className = "toasts";
    region.id = "toasts";
    region.setAttribute("aria-live", "polite");
    region.setAttribute("aria-relevant", "additions");
    document.body.appendChild(region);
    return region;
  }

  function safeUrl(url) {
    // Only a path of this Plank ("/media/4/"), never "//host" or "javascript:".
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" ? url : "";
  }

  function dismiss(toast) {
    if (!toast.parentNode) return;
    toast.classList.add("leaving");
    setTimeout(function () {
      if (toast.parentNode) toast.parentNode.removeChild(toast);
    }, 200);
  }

  function show(item) {
    var box = ensureRegion();
    var toast = document.createElement("div");
    toast.className = "toast toast-" + String(item.kind || "info").replace(/[^a-z_]/g, "");
    toast.setAttribute("data-notification-id", String(item.id));
    var text = document.createElement("span");
    text.className = "toast-text";
    text.textContent = String(item.text || "");
    toast.appendChild(text);
    var url = safeUrl(item.url);
    if (url) {
      var link = document.createElement("a");
      link.className = "toast-link";
      link.href = url;
      link.textContent = "Open";
      toast.appendChild(link);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close icon-button";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "✕";
    close.addEventListener("click", function () {
      dismiss(toast);
    });
    toast.appendChild(close);
    box.appendChild(toast);
    while (box.children.length > MAX_SHOWN) box.removeChild(box.firstElementChild);
    var timer = null;
    function arm() {
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (toast.matches(":hover") || toast.contains(document.activeElement)) arm();
        else dismiss(toast);
      }, HIDE_AFTER);
    }
    arm();
  }

  function read(feed) {
    var field = feed.querySelector('[data-field="toasts"]');
    var items;
    try {
      items = JSON.parse((field || feed).textContent || "[]");
    } catch (e) {
      return;
    }
    if (!Array.isArray(items)) return;
    items.forEach(function (item) {
      if (!item || typeof item !== "object" || item.id === undefined) return;
      if (shown[item.id]) return;
      shown[item.id] = true;
      show(item);
    });
  }

  var watched = typeof WeakSet === "function" ? new WeakSet() : null;

  function watch(feed) {
    if (watched) {
      if (watched.has(feed)) return;
      watched.add(feed);
    }
    new MutationObserver(function () {
      read(feed);
    }).observe(feed, { childList: true, characterData: true, subtree: true });
  }

  function start() {
    ensureRegion();
    var feeds = document.querySelectorAll('[data-live-set="notify"]');
    for (var i = 0; i < feeds.length; i++) watch(feeds[i]);
  }

  window.plankToasts = { show: show, shown: shown };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
