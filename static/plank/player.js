/* Plank's player page: resume, remember the position, show buffering. No inline script.
 *
 * The <video data-position-url data-file data-start> element is rendered by
 * media/templates/media/watch.html. Positions are POSTed as a form (position, duration, file,
 * csrfmiddlewaretoken): every 5 s while playing, on pause and at the end with fetch, and with
 * navigator.sendBeacon when the page is hidden or left (the token travels in the body, so
 * Django's CSRF check applies to beacons too).
 */
(function () {
  "use strict";

  var SAVE_EVERY_MS = 5000;

  function init() {
    var video = document.getElementById("player-video");
    if (!video) return;
    var url = video.dataset.positionUrl;
    var fileId = video.dataset.file || "";
    var start = parseFloat(video.dataset.start || "0");
    var overlay = document.querySelector("[data-buffering]");
    var errorBox = document.querySelector("[data-player-error]");
    var tokenInput = document.querySelector("[data-position-form] input[name=csrfmiddlewaretoken]");
    var lastSaved = -1;
    var timer = null;

    function token() {
      if (tokenInput && tokenInput.value) return tokenInput.value;
      var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
      return match ? decodeURIComponent(match[1]) : "";
    }

    function form() {
      var position = video.currentTime;
      if (!isFinite(position) || position < 0) return null;
      var data = new FormData();
      data.append("position", position.toFixed(3));
      if (isFinite(video.duration) && video.duration > 0) data.append("duration", video.duration.toFixed(3));
      data.append("file", fileId);
      data.append("csrfmiddlewaretoken", token());
      return data;
    }

    function changed() {
      return Math.abs(video.currentTime - lastSaved) >= 1;
    }

    function save() {
      if (!url || !changed()) return;
      var data = form();
      if (!data) return;
      lastSaved = video.currentTime;
      fetch(url, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-CSRFToken": token() },
        keepalive: true
      }).catch(function () { lastSaved = -1; });
    }

    function beacon() {
      if (!url || !changed()) return;
      var data = form();
      if (!data) return;
      lastSaved = video.currentTime;
      if (navigator.sendBeacon && navigator.sendBeacon(url, data)) return;
      lastSaved = -1;
      save();
    }

    function showBuffering(on) {
      if (overlay) overlay.hidden = !on;
    }

    function startTimer() {
      if (timer === null) timer = window.setInterval(save, SAVE_EVERY_MS);
    }

    function stopTimer() {
      if (timer !== null) {
        window.clearInterval(timer);
        timer = null;
      }
    }

    video.addEventListener("loadedmetadata", function () {
      var duration = video.duration;
      if (start > 0 && (!isFinite(duration) || start < duration - 5)) {
        try { video.currentTime = start; } catch (e) { /* not seekable yet */ }
      }
      lastSaved = start;
    }, { once: true });

    video.addEventListener("waiting", function () { showBuffering(true); });
    video.addEventListener("stalled", function () { if (!video.paused) showBuffering(true); });
    ["playing", "canplay", "canplaythrough", "pause", "ended", "error"].forEach(function (name) {
      video.addEventListener(name, function () { showBuffering(false); });
    });

    video.addEventListener("playing", startTimer);
    video.addEventListener("pause", function () { stopTimer(); save(); });
    video.addEventListener("ended", function () { stopTimer(); save(); });
    video.addEventListener("seeked", function () { if (video.paused) save(); });

    function showError(text) {
      if (!errorBox) return;
      errorBox.textContent = text;
      errorBox.hidden = !text;
    }

    function codeMessage(err) {
      if (err && err.code === 4) {
        return "This browser can't play this file's format. Try another browser, or open the file in a video player.";
      }
      if (err && err.code === 2) return "The connection to the server broke while loading the video. Reload the page to try again.";
      if (err && err.code === 3) return "The video is damaged or couldn't be decoded.";
      return "The video couldn't be played.";
    }

    // A failed load looks the same to the <video> element whatever the reason: ask the
    // server what it says (a 503 while the first bytes arrive, a 404 for a missing file).
    video.addEventListener("error", function () {
      var err = video.error;
      var src = video.currentSrc || video.getAttribute("src");
      if (!src) { showError(codeMessage(err)); return; }
      fetch(src, { headers: { Range: "bytes=0-0" }, credentials: "same-origin" }).then(function (response) {
        if (response.ok) { showError(codeMessage(err)); return null; }
        return response.text().then(function (text) {
          var retry = parseInt(response.headers.get("Retry-After") || "", 10);
          if (response.status === 503 && retry > 0) {
            showError(text.trim() + " Trying again in " + retry + " s…");
            if (video.currentTime > 0) start = video.currentTime;
            window.setTimeout(function () {
              showError("");
              video.addEventListener("loadedmetadata", function () {
                if (start > 0) { try { video.currentTime = start; } catch (e) { /* ignore */ } }
              }, { once: true });
              video.load();
            }, retry * 1000);
          } else {
            showError(text.trim() || codeMessage(err));
          }
        });
      }).catch(function () { showError(codeMessage(err)); });
    });

    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") beacon();
    });
    window.addEventListener("pagehide", beacon);

    var picker = document.querySelector("select[data-autosubmit]");
    if (picker && picker.form) {
      picker.addEventListener("change", function () {
        beacon();
        picker.form.submit();
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
