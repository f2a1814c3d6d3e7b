// Plank's page helpers: dialogs, confirmations, optimistic removal. No build step.
(function () {
  "use strict";

  function showMessage(text, level) {
    var box = document.getElementById("messages");
    if (!box || !text) return;
    var p = document.createElement("p");
    p.className = "message " + (level || "info");
    p.setAttribute("role", level === "error" ? "alert" : "status");
    p.textContent = text;
    box.appendChild(p);
    setTimeout(function () { p.remove(); }, 8000);
  }
  window.plankMessage = showMessage;

  // Dialogs: [data-open-dialog="id"] opens, [data-close-dialog] closes.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (dialog && !dialog.open) {
        dialog.showModal();
        var first = dialog.querySelector("textarea, input:not([type=hidden]), button.primary");
        if (first) first.focus();
      }
      return;
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var d = closer.closest("dialog");
      if (d) d.close();
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("dialog[data-open-on-load]").forEach(function (d) { d.showModal(); });
  });

  // A calmer confirm than window.confirm, for hx-confirm.
  function confirmDialog(question) {
    return new Promise(function (resolve) {
      var dialog = document.createElement("dialog");
      dialog.innerHTML = '<form method="dialog" class="dialog-body"><h2></h2>' +
        '<div class="dialog-actions"><button value="cancel">Cancel</button>' +
        '<button value="ok" class="danger solid">Delete</button></div></form>';
      dialog.querySelector("h2").textContent = question;
      document.body.appendChild(dialog);
      dialog.addEventListener("close", function () {
        resolve(dialog.returnValue === "ok");
        dialog.remove();
      });
      dialog.showModal();
      dialog.querySelector("button[value=ok]").focus();
    });
  }
  document.addEventListener("htmx:confirm", function (event) {
    if (!event.detail.question) return;
    event.preventDefault();
    confirmDialog(event.detail.question).then(function (ok) {
      if (ok) event.detail.issueRequest(true);
    });
  });

  // Optimistic removal: hide the element at once; bring it back with a message if refused.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt.closest && event.detail.elt.closest("[data-optimistic-remove]");
    if (!form) return;
    var target = document.querySelector(form.getAttribute("data-optimistic-remove"));
    if (target) target.hidden = true;
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    var form = elt.closest && elt.closest("[data-optimistic-remove]");
    if (!form || event.detail.successful) return;
    var target = document.querySelector(form.getAttribute("data-optimistic-remove"));
    if (target) target.hidden = false;
    var xhr = event.detail.xhr;
    var text = xhr && xhr.status && xhr.responseText && xhr.responseText.length < 300 ? xhr.responseText
      : "The server could not do that. Please try again.";
    showMessage(text, "error");
  });
  // Any other failed request gets a plain message instead of silence.
  document.addEventListener("htmx:responseError", function (event) {
    var elt = event.detail.elt;
    if (elt.closest && elt.closest("[data-optimistic-remove]")) return;
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    showMessage(status >= 500 ? "Something went wrong on the server." : "That didn't work (HTTP " + status + ").", "error");
  });
  document.addEventListener("htmx:sendError", function () {
    showMessage("Plank can't be reached right now. Check the connection.", "error");
  });
  // A change made from this page refreshes the library's live elements at once, without
  // waiting for the socket's invalidation (which still reaches every other page).
  document.body && document.body.addEventListener("library:changed", refreshLibrary);
  document.addEventListener("DOMContentLoaded", function () {
    document.body.addEventListener("library:changed", refreshLibrary);
  });
  function refreshLibrary() {
    if (!window.htmx) return;
    document.querySelectorAll('[data-live-key^="media"]').forEach(function (el) {
      window.htmx.trigger(el, "live:refresh");
    });
  }

  // No inline handlers anywhere (the Content-Security-Policy allows no inline script, and
  // htmx's eval is off): behaviour is wired here by data attributes, delegated on document.

  // [data-submit-on-change]: a select (or input) that submits its form when it changes.
  document.addEventListener("change", function (event) {
    var field = event.target.closest && event.target.closest("[data-submit-on-change]");
    if (!field || !field.form) return;
    if (field.form.requestSubmit) field.form.requestSubmit();
    else field.form.submit();
  });

  // The folder browser's "Use this folder" ([data-use-folder="<path>"]): fill the path
  // input and close the browser, instead of following the link (which works without JS).
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-use-folder]");
    if (!link) return;
    var input = document.getElementById("folder-path");
    if (!input) return;
    event.preventDefault();
    input.value = link.getAttribute("data-use-folder");
    var browser = document.getElementById("folder-browser");
    if (browser) {
      var empty = document.createElement("div");
      empty.id = "folder-browser";
      browser.replaceWith(empty);
    }
    input.focus();
  });

  // The add dialog's preview is shown only when it has something to say.
  document.addEventListener("htmx:afterSwap", function (event) {
    var preview = document.getElementById("add-preview");
    if (preview && !preview.textContent.trim()) preview.hidden = true;
  });
})();
