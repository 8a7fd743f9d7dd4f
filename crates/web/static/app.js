// Progressive enhancement only: every action works without this file.
// Keyboard: j/k move in the queue, e edits the draft, v then v validates and
// sends, ? shows help.
(function () {
  "use strict";
  // Validating queues the reply for sending: one stray key press must not do it.
  // A first `v` arms the button (focused, highlighted, a prompt shown); only a
  // second `v` within CONFIRM_MS, or Enter/click on the focused button, sends.
  var CONFIRM_MS = 4000;
  var armedUntil = 0;
  var disarmTimer = null;
  function disarm() {
    armedUntil = 0;
    if (disarmTimer) { clearTimeout(disarmTimer); disarmTimer = null; }
    var b = document.getElementById("validate");
    if (b) b.classList.remove("armed");
    var p = document.getElementById("validate-confirm");
    if (p) p.hidden = true;
  }
  // The `[[à compléter : …]]` markers left in the draft (the server refuses to
  // send a reply that still has one; same pattern as facteur_core::reply).
  var MARKER = /\[\[à compléter : ([^\]\n]*)(?:\]\]|$)/gm;
  function markers(text) {
    var out = [], m;
    MARKER.lastIndex = 0;
    while ((m = MARKER.exec(text)) !== null) {
      if (out.indexOf(m[0]) < 0) out.push(m[0]);
      if (m[0].length === 0) MARKER.lastIndex++;
    }
    return out;
  }
  // Keeps the "to complete" warning in step with the text as the agent types.
  function refreshUnfilled() {
    var d = document.getElementById("draft");
    var p = document.getElementById("unfilled-fields");
    var list = document.getElementById("unfilled-list");
    if (!d || !p || !list) return [];
    var found = markers(d.value);
    while (list.firstChild) list.removeChild(list.firstChild);
    found.forEach(function (f) {
      var c = document.createElement("code");
      c.textContent = f;
      list.appendChild(c);
      list.appendChild(document.createTextNode(" "));
    });
    p.hidden = found.length === 0;
    return found;
  }
  // "Envoi dans 30 s": counts down; at zero the reply has left the agent's
  // hands, so the undo button goes (the server refuses a late undo anyway).
  (function countdown() {
    var s = document.getElementById("undo-seconds");
    if (!s) return;
    var left = parseInt(s.textContent, 10);
    var timer = setInterval(function () {
      left -= 1;
      if (left > 0) { s.textContent = String(left); return; }
      clearInterval(timer);
      s.textContent = "0";
      var f = document.getElementById("undo-send-form");
      if (f) f.hidden = true;
    }, 1000);
  })();
  // Text modules: "::identifier" then Enter in the draft searches the knowledge
  // base for that standard answer and inserts it, filled from the mail (the
  // server does both; the draft's text goes along, without the "::identifier").
  document.addEventListener("keydown", function (ev) {
    var d = ev.target;
    if (ev.key !== "Enter" || !d || d.id !== "draft") return;
    var before = d.value.slice(0, d.selectionStart);
    var m = /::([A-Za-z0-9_-]+)$/.exec(before);
    var q = document.getElementById("kb-q");
    var go = document.getElementById("kb-search");
    var exact = document.getElementById("kb-exact");
    if (!m || !q || !go || !exact) return;
    ev.preventDefault();
    d.value = before.slice(0, before.length - m[0].length) + d.value.slice(d.selectionStart);
    q.value = m[1];
    exact.value = "1";
    go.click();
  });
  document.addEventListener("input", function (ev) {
    if (ev.target && ev.target.id === "draft") refreshUnfilled();
  });
  function validateKey() {
    var b = document.getElementById("validate");
    if (!b) return false;
    // A marker left: the shortcut does not arm (the send would be refused); it
    // selects the first marker in the draft so the agent types over it.
    var d = document.getElementById("draft");
    if (d && refreshUnfilled().length > 0) {
      disarm();
      MARKER.lastIndex = 0;
      var m = MARKER.exec(d.value);
      d.focus();
      if (m) d.setSelectionRange(m.index, m.index + m[0].length);
      return true;
    }
    if (armedUntil > Date.now()) {
      disarm();
      b.click();
      return true;
    }
    armedUntil = Date.now() + CONFIRM_MS;
    b.classList.add("armed");
    var p = document.getElementById("validate-confirm");
    if (p) p.hidden = false;
    // Scroll only as far as needed to show the button and its prompt: focus()
    // alone centres an element a few pixels off screen, throwing the draft out
    // of view.
    b.focus({ preventScroll: true });
    if (p) p.scrollIntoView({ block: "nearest" });
    b.scrollIntoView({ block: "nearest" });
    if (disarmTimer) clearTimeout(disarmTimer);
    disarmTimer = setTimeout(disarm, CONFIRM_MS);
    return true;
  }
  function typing(el) {
    if (!el) return false;
    var t = el.tagName;
    return t === "INPUT" || t === "TEXTAREA" || t === "SELECT" || el.isContentEditable;
  }
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#queue .queue-row a.open"));
  }
  function move(delta) {
    var links = rows();
    if (links.length === 0) {
      // On a message page: j opens the next message, k the previous one (or the
      // queue when the page was not reached from a list).
      var target = delta > 0
        ? document.getElementById("next-message")
        : (document.getElementById("prev-message") || document.getElementById("back-to-queue"));
      if (target) target.click();
      return;
    }
    var i = links.indexOf(document.activeElement);
    var next = i < 0 ? 0 : Math.min(links.length - 1, Math.max(0, i + delta));
    links[next].focus();
    var row = links[next].closest(".queue-row");
    links.forEach(function (l) { var r = l.closest(".queue-row"); if (r) r.classList.remove("selected"); });
    if (row) row.classList.add("selected");
  }
  function toggleHelp() {
    var h = document.getElementById("help");
    if (!h) return;
    h.hidden = !h.hidden;
    if (!h.hidden) { h.setAttribute("tabindex", "-1"); h.focus(); }
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Escape") {
      disarm();
      var h = document.getElementById("help");
      if (h && !h.hidden) { h.hidden = true; }
      if (typing(document.activeElement)) document.activeElement.blur();
      return;
    }
    if (typing(ev.target)) return;
    // Any other key cancels a pending confirmation.
    if (ev.key !== "v" && armedUntil) disarm();
    switch (ev.key) {
      case "j": move(1); ev.preventDefault(); break;
      case "k": move(-1); ev.preventDefault(); break;
      case "e": {
        var d = document.getElementById("draft");
        if (d) { d.focus(); ev.preventDefault(); }
        break;
      }
      case "v": {
        if (validateKey()) ev.preventDefault();
        break;
      }
      // Without a draft, the proposed request types: one key answers with the
      // n-th (a category correction, recorded as feedback; nothing is sent).
      case "1": case "2": case "3": {
        var c = document.querySelectorAll("#candidates button.candidate-use")[+ev.key - 1];
        if (c) { c.click(); ev.preventDefault(); }
        break;
      }
      // Escalation: to its reason, then arrows and Enter on the button.
      case "x": {
        var r = document.getElementById("escalate-reason");
        if (r) {
          r.focus({ preventScroll: true });
          r.scrollIntoView({ block: "nearest" });
          ev.preventDefault();
        }
        break;
      }
      // A thanks-only mail: triage suggests closing it, one key confirms.
      // Elsewhere, to the reason for closing, as for an escalation.
      case "c": {
        var s = document.getElementById("close-thanks");
        var r2 = document.getElementById("close-reason");
        if (s) { s.click(); ev.preventDefault(); }
        else if (r2) {
          r2.focus({ preventScroll: true });
          r2.scrollIntoView({ block: "nearest" });
          ev.preventDefault();
        }
        break;
      }
      case "?": toggleHelp(); ev.preventDefault(); break;
    }
  });
})();

// The standard-answer editor: the body's {{variables}} listed as they are typed,
// each said to be filled when drafting or left for the agent (the server draws
// the same list on every page load; this only keeps it current).
(function () {
  "use strict";
  var body = document.getElementById("answer-body");
  var list = document.getElementById("answer-variables");
  if (!body || !list) return;
  var known = (list.getAttribute("data-known") || "").split(" ");
  var VAR = /\{\{([^}]*)\}\}/g;
  function refresh() {
    var seen = [], m;
    VAR.lastIndex = 0;
    while ((m = VAR.exec(body.value)) !== null) {
      var name = m[1].trim();
      if (seen.indexOf(name) < 0) seen.push(name);
    }
    while (list.firstChild) list.removeChild(list.firstChild);
    if (!seen.length) {
      var none = document.createElement("li");
      none.textContent = list.getAttribute("data-none-label");
      list.appendChild(none);
      return;
    }
    seen.forEach(function (name) {
      var ok = known.indexOf(name) >= 0;
      var li = document.createElement("li");
      li.setAttribute("data-known", ok ? "true" : "false");
      var code = document.createElement("code");
      code.textContent = "{{" + name + "}}";
      li.appendChild(code);
      li.appendChild(document.createTextNode(" : " +
        list.getAttribute(ok ? "data-known-label" : "data-unknown-label")));
      list.appendChild(li);
    });
  }
  body.addEventListener("input", refresh);
})();
