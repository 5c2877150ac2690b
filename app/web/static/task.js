/* Task page enhancements: the process diagram with this step highlighted (diagram.js); focus after
   add/remove row and on the error summary. The page works without it. */
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
  if (!box) { return; }
  var card = document.getElementById("diagram-card") || box.parentNode;

  /* This step (or, in a caller, the call activity that leads to it) highlighted. */
  function highlight(element) {
    return function (viewer) {
      try { viewer.get("canvas").addMarker(element, "current-step"); } catch (e) { return []; }
      return [element];
    };
  }

  function draw() {
    if (!window.PmoDiagram) { return; }
    var diagram = window.PmoDiagram.attach(card, box, {
      level: function (level) {
        box.setAttribute("aria-label", "Diagram of " + level.getAttribute("data-name") + ", the way to this step highlighted");
        diagram.load(level.getAttribute("data-xml-url"), highlight(level.getAttribute("data-element"))).catch(diagram.failed);
      }
    });
    if (diagram) {
      diagram.load(box.getAttribute("data-xml-url"), highlight(box.getAttribute("data-element"))).catch(diagram.failed);
    }
  }
  if (document.readyState === "complete") { draw(); } else { window.addEventListener("load", draw); }
})();
