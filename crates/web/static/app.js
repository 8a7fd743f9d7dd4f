// Progressive enhancement only: every action works without this file.
// Keyboard: j/k move in the queue, e edits the draft, v validates, ? shows help.
(function () {
  "use strict";
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
      var h = document.getElementById("help");
      if (h && !h.hidden) { h.hidden = true; }
      if (typing(document.activeElement)) document.activeElement.blur();
      return;
    }
    if (typing(ev.target)) return;
    switch (ev.key) {
      case "j": move(1); ev.preventDefault(); break;
      case "k": move(-1); ev.preventDefault(); break;
      case "e": {
        var d = document.getElementById("draft");
        if (d) { d.focus(); ev.preventDefault(); }
        break;
      }
      case "v": {
        var v = document.getElementById("validate");
        if (v) { ev.preventDefault(); v.click(); }
        break;
      }
      case "?": toggleHelp(); ev.preventDefault(); break;
    }
  });
})();
