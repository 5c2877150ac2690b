/* The read-only process diagram shared by the task page and the project workspace: bpmn-js's
   viewer (the vendored one, not the studio bundle) with zoom, fit, full screen, touch gestures and
   a nav of levels (the processes a step is in or that a phase calls). A page says what to mark
   through `decorate(viewer)`, which returns the ids to bring into view. Pages work without it. */
(function () {
  "use strict";

  function attach(card, box, options) {
    if (!box || !window.fetch || !window.BpmnJS) { return null; }
    options = options || {};
    var viewer = new window.BpmnJS({ container: box });
    var focusIds = [];

    /* The marked elements at a readable scale (the whole process when it fits readably). */
    function focus() {
      var canvas = viewer.get("canvas");
      canvas.zoom("fit-viewport");
      var fit = canvas.viewbox();
      var registry = viewer.get("elementRegistry");
      var shown = focusIds.map(function (id) { return registry.get(id); }).filter(Boolean);
      if (!shown.length || fit.scale >= 0.9) { return; }
      var left = Math.min.apply(null, shown.map(function (e) { return e.x; }));
      var top = Math.min.apply(null, shown.map(function (e) { return e.y; }));
      var right = Math.max.apply(null, shown.map(function (e) { return e.x + e.width; }));
      var bottom = Math.max.apply(null, shown.map(function (e) { return e.y + e.height; }));
      var width = fit.outer.width, height = fit.outer.height;
      canvas.viewbox({ x: (left + right) / 2 - width / 2, y: (top + bottom) / 2 - height / 2,
                       width: width, height: height });
    }

    function load(url, decorate) {
      return fetch(url, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
        .then(function (xml) { return viewer.importXML(xml); })
        .then(function () {
          focusIds = (decorate ? decorate(viewer) : []) || [];
          focus();
          message("");
          box.classList.add("loaded");
          Array.prototype.forEach.call(card.querySelectorAll("[data-diagram-tools]"), function (t) { t.hidden = false; });
        });
    }

    /* Said beside the canvas (kept, so another level can still be drawn). */
    function message(text) {
      var note = card.querySelector(".diagram-error");
      if (!text) { if (note) { note.remove(); } return; }
      if (!note) {
        note = document.createElement("p");
        note.className = "diagram-error notice";
        note.setAttribute("role", "status");
        box.parentNode.insertBefore(note, box);
      }
      note.textContent = text;
    }

    function failed() { box.classList.remove("loaded"); message("The diagram could not be shown."); }

    function setFull(on) {
      card.classList.toggle("diagram-full", on);
      document.documentElement.classList.toggle("diagram-open", on);
      var button = card.querySelector('[data-diagram-action="full"]');
      if (button) {
        button.setAttribute("aria-pressed", on ? "true" : "false");
        button.textContent = on ? "Close full screen" : "Full screen";
      }
      viewer.get("canvas").resized();
      focus();
    }

    function act(action) {
      var canvas = viewer.get("canvas");
      if (action === "zoom-in" || action === "zoom-out") {
        canvas.zoom(canvas.zoom() * (action === "zoom-in" ? 1.25 : 0.8));
      } else if (action === "step") {
        focus();
      } else if (action === "whole") {
        canvas.zoom("fit-viewport", "auto");
      } else if (action === "full") {
        setFull(!card.classList.contains("diagram-full"));
      }
    }

    /* Mark a level of the nav as the one shown, and name it in the heading. */
    function select(level) {
      Array.prototype.forEach.call(card.querySelectorAll(".diagram-level"), function (l) {
        if (l === level) { l.setAttribute("aria-current", "true"); } else { l.removeAttribute("aria-current"); }
      });
      var name = card.querySelector("[data-diagram-name]");
      if (name) { name.textContent = level.getAttribute("data-name"); }
    }

    card.addEventListener("click", function (event) {
      var button = event.target.closest("[data-diagram-action]");
      if (button) { act(button.getAttribute("data-diagram-action")); return; }
      var level = event.target.closest(".diagram-level");
      if (!level || !options.level) { return; }
      event.preventDefault();
      select(level);
      options.level(level);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && card.classList.contains("diagram-full")) { setFull(false); }
    });
    window.addEventListener("resize", function () { viewer.get("canvas").resized(); });
    touch(box, viewer);
    return { viewer: viewer, load: load, failed: failed, focus: focus, select: select };
  }

  /* Phones: bpmn-js moves and zooms with a mouse only; one finger drags, two fingers pinch. */
  function touch(box, viewer) {
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

  window.PmoDiagram = { attach: attach };
})();
