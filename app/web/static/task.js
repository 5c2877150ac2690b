/* Task page enhancements: the process diagram with this step highlighted; focus after add/remove row
   and on the error summary. The page works without it. */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
  var form = document.querySelector("form[data-focus]");
  if (form && !summary) {
    var target = "field-" + form.getAttribute("data-focus").replace(/[^A-Za-z0-9_-]/g, "-");
    var el = document.getElementById(target) || document.getElementById(target.replace(/-(\d+)$/, "-row-$1"));
    var input = el && (el.matches("input, select, textarea") ? el : el.querySelector("input, select, textarea"));
    if (input) { input.focus(); } else if (el) { el.scrollIntoView(); }
  }
  var box = document.getElementById("diagram");
  if (!box || !window.fetch) { return; }
  function draw() {
    if (!window.BpmnJS) { return; }
    var viewer = new window.BpmnJS({ container: box });
    fetch(box.getAttribute("data-xml-url"), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        canvas.zoom("fit-viewport");
        try { canvas.addMarker(box.getAttribute("data-element"), "current-step"); } catch (e) { /* not drawn */ }
        box.classList.add("loaded");
      })
      .catch(function () { box.textContent = "The diagram could not be shown."; });
  }
  if (document.readyState === "complete") { draw(); } else { window.addEventListener("load", draw); }
})();
