// Medley dashboard: live parts without reloads. The server renders every fragment (and
// escapes it); this script only swaps fragments in, follows a job's event stream, and
// handles the select-all box and confirmations. No inline script: the CSP forbids it.
(function () {
  "use strict";

  function busy(el) {
    // Don't swap a part the user is working in (ticked boxes, focused field).
    if (el.hasAttribute("data-pause-on-input") && el.querySelector("input[type=checkbox]:checked")) return true;
    return el.contains(document.activeElement) && document.activeElement !== document.body;
  }

  function refresh(el) {
    if (document.hidden || busy(el)) return Promise.resolve();
    return fetch(el.getAttribute("data-live"), { credentials: "same-origin", headers: { "X-Medley-Fragment": "1" } })
      .then(function (r) { return r.ok && !r.redirected ? r.text() : null; })
      .then(function (html) { if (html !== null) { el.innerHTML = html; } })
      .catch(function () { /* offline for a moment: try again next tick */ });
  }

  function poll(el) {
    var every = parseInt(el.getAttribute("data-every") || "0", 10);
    if (every > 0) setInterval(function () { refresh(el); }, every);
  }

  function follow(el) {
    var url = el.getAttribute("data-events");
    if (!url || !window.EventSource) return;
    var source = new EventSource(url);
    source.addEventListener("progress", function (e) {
      var job = JSON.parse(e.data);
      var bar = document.getElementById("job-progress");
      if (bar) bar.value = job.progress.fraction;
      var f = el.querySelector("[data-field=fraction]");
      if (f) f.textContent = Math.round(job.progress.fraction * 100) + "%";
      var m = el.querySelector("[data-field=message]");
      if (m) m.textContent = job.progress.message || "";
    });
    source.addEventListener("state", function () { refresh(el); });
    source.addEventListener("end", function () { source.close(); refresh(el); });
  }

  document.addEventListener("click", function (e) {
    var t = e.target.closest("[data-confirm]");
    if (t && !window.confirm(t.getAttribute("data-confirm"))) e.preventDefault();
  });

  document.addEventListener("change", function (e) {
    if (e.target.matches("[data-select-all]")) {
      var form = e.target.closest("form");
      form.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = e.target.checked; });
    }
  });

  document.querySelectorAll("[data-live]").forEach(poll);
  document.querySelectorAll("[data-events]").forEach(follow);
})();
