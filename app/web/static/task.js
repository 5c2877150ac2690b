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
  var card = document.getElementById("diagram-card") || box.parentNode;
  var viewer = null;
  var current = { url: box.getAttribute("data-xml-url"), element: box.getAttribute("data-element") };

  /* Show the highlighted element at a readable scale (the whole process when it fits readably). */
  function focusStep() {
    var canvas = viewer.get("canvas");
    canvas.zoom("fit-viewport");
    var fit = canvas.viewbox();
    var el = viewer.get("elementRegistry").get(current.element);
    if (!el || fit.scale >= 0.9) { return; }
    var scale = 1;
    var outer = fit.outer;
    var width = outer.width / scale, height = outer.height / scale;
    canvas.viewbox({ x: el.x + el.width / 2 - width / 2, y: el.y + el.height / 2 - height / 2,
                     width: width, height: height });
  }

  function load(url, element) {
    current = { url: url, element: element };
    return fetch(url, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        try { viewer.get("canvas").addMarker(element, "current-step"); } catch (e) { /* not drawn */ }
        focusStep();
        box.classList.add("loaded");
      });
  }

  function setFull(on) {
    card.classList.toggle("diagram-full", on);
    document.documentElement.classList.toggle("diagram-open", on);
    var button = card.querySelector('[data-diagram-action="full"]');
    if (button) {
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.textContent = on ? "Close full screen" : "Full screen";
    }
    viewer.get("canvas").resized();
    focusStep();
  }

  function act(action) {
    var canvas = viewer.get("canvas");
    if (action === "zoom-in" || action === "zoom-out") {
      canvas.zoom(canvas.zoom() * (action === "zoom-in" ? 1.25 : 0.8));
    } else if (action === "step") {
      focusStep();
    } else if (action === "whole") {
      canvas.zoom("fit-viewport", "auto");
    } else if (action === "full") {
      setFull(!card.classList.contains("diagram-full"));
    }
  }

  function draw() {
    if (!window.BpmnJS) { return; }
    viewer = new window.BpmnJS({ container: box });
    load(current.url, current.element)
      .then(function () {
        Array.prototype.forEach.call(card.querySelectorAll("[data-diagram-tools]"), function (t) { t.hidden = false; });
      })
      .catch(function () { box.textContent = "The diagram could not be shown."; });
    card.addEventListener("click", function (event) {
      var button = event.target.closest("[data-diagram-action]");
      if (button) { act(button.getAttribute("data-diagram-action")); return; }
      var level = event.target.closest(".diagram-level");
      if (!level) { return; }
      event.preventDefault();
      Array.prototype.forEach.call(card.querySelectorAll(".diagram-level"), function (l) {
        if (l === level) { l.setAttribute("aria-current", "true"); } else { l.removeAttribute("aria-current"); }
      });
      var name = card.querySelector("[data-diagram-name]");
      if (name) { name.textContent = level.getAttribute("data-name"); }
      box.setAttribute("aria-label", "Diagram of " + level.getAttribute("data-name") + ", the way to this step highlighted");
      load(level.getAttribute("data-xml-url"), level.getAttribute("data-element"))
        .catch(function () { box.textContent = "The diagram could not be shown."; });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && card.classList.contains("diagram-full")) { setFull(false); }
    });
    window.addEventListener("resize", function () { viewer.get("canvas").resized(); });
    touch();
  }

  /* Phones: bpmn-js moves and zooms with a mouse only; one finger drags, two fingers pinch. */
  function touch() {
    var points = {};
    var last = null;
    function spread() {
      var p = Object.keys(points).map(function (k) { return points[k]; });
      if (p.length < 2) { return null; }
      var rect = box.getBoundingClientRect();
      return { d: Math.hypot(p[0].x - p[1].x, p[0].y - p[1].y),
               c: { x: (p[0].x + p[1].x) / 2 - rect.left, y: (p[0].y + p[1].y) / 2 - rect.top } };
    }
    box.addEventListener("pointerdown", function (e) {
      if (e.pointerType !== "touch") { return; }
      points[e.pointerId] = { x: e.clientX, y: e.clientY };
      last = spread();
    });
    box.addEventListener("pointermove", function (e) {
      if (e.pointerType !== "touch" || !points[e.pointerId]) { return; }
      var canvas = viewer.get("canvas");
      var before = points[e.pointerId];
      points[e.pointerId] = { x: e.clientX, y: e.clientY };
      var now = spread();
      if (now && last && last.d > 0) {
        canvas.zoom(Math.min(4, Math.max(0.2, canvas.zoom() * now.d / last.d)), now.c);
        last = now;
      } else if (!now) {
        canvas.scroll({ dx: e.clientX - before.x, dy: e.clientY - before.y });
      }
    });
    function up(e) { delete points[e.pointerId]; last = spread(); }
    box.addEventListener("pointerup", up);
    box.addEventListener("pointercancel", up);
  }
  if (document.readyState === "complete") { draw(); } else { window.addEventListener("load", draw); }
})();
