// The studio's pages (library, version, diff, publish): draws each [data-xml-url] diagram with the
// studio bundle's viewer, colouring the elements named in data-marks, and asks before a
// [data-confirm] form is sent. The editor mounts itself (frontend/studio/editor.js).
(function () {
  "use strict";

  function showNoLayout(el) {
    el.hidden = true;
    var hint = el.parentNode.querySelector("[data-no-layout]");
    if (hint) { hint.hidden = false; }
  }

  function draw(el) {
    var marks = {};
    try { marks = JSON.parse(el.getAttribute("data-marks") || "{}"); } catch (e) { marks = {}; }
    fetch(el.getAttribute("data-xml-url"), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (xml) { return window.PmoStudio.viewer(el, xml, { marks: marks }); })
      .then(function (result) {
        if (result && result.hasLayout === false) { showNoLayout(el); }
        el.setAttribute("data-drawn", "true");
      })
      .catch(function (err) {
        el.setAttribute("data-drawn", "failed");
        var p = document.createElement("p");
        p.className = "field-error";
        p.textContent = "The diagram could not be drawn: " + err.message;
        el.parentNode.insertBefore(p, el.nextSibling);
      });
  }

  document.querySelectorAll(".studio-viewer[data-xml-url]").forEach(function (el) {
    if (window.PmoStudio) { draw(el); } else { showNoLayout(el); }
  });

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
}());
