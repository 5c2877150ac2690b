/* Inbox live updates: poll a small endpoint; replace the list only when it changed. */
(function () {
  "use strict";
  var tab = document.querySelector('.tabs [aria-current="page"]');
  if (tab && tab.scrollIntoView && tab.parentNode.scrollWidth > tab.parentNode.clientWidth) {
    tab.parentNode.scrollLeft = tab.offsetLeft - tab.parentNode.offsetLeft - 12;  /* phones: the open view in sight */
  }
  var box = document.getElementById("inbox-live");
  if (!box || !window.fetch) { return; }
  var status = document.getElementById("live-status");
  var interval = 5000;
  function poll() {
    if (document.hidden) { return schedule(); }
    var url = box.getAttribute("data-live-url") + "&sig=" + encodeURIComponent(box.getAttribute("data-signature"));
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.status === 200 ? r.json() : null; })
      .then(function (data) {
        if (data) {
          var focused = document.activeElement && box.contains(document.activeElement);
          box.innerHTML = data.html;
          box.setAttribute("data-signature", data.signature);
          Object.keys(data.counts).forEach(function (view) {
            var el = document.querySelector('[data-count="' + view + '"]');
            if (el) { el.textContent = data.counts[view]; }
          });
          if (status) { status.textContent = "Updated " + new Date().toLocaleTimeString(); }
          if (focused) { box.focus && box.querySelector("a, button") && box.querySelector("a, button").focus(); }
        }
      })
      .catch(function () { /* offline: try again later */ })
      .then(schedule);
  }
  function schedule() { window.setTimeout(poll, interval); }
  schedule();
})();
