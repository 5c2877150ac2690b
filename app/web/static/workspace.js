/* The project workspace's "You are here": the lifecycle diagram (diagram.js) with the steps done,
   the current steps and the path taken marked, each labelled in words; a phase's call activity or
   a link of the levels nav opens that phase's own diagram. The page says the same in words. */
(function () {
  "use strict";
  var box = document.getElementById("lifecycle-diagram");
  if (!box) { return; }
  var card = document.getElementById("you-are-here");

  function badge(text, kind) {
    var el = document.createElement("span");
    el.className = "mark-badge mark-badge-" + kind;
    el.textContent = text;
    return el;
  }

  /* Markers from the marks JSON; returns the current steps, which the view brings into sight. */
  function decorate(marks) {
    return function (viewer) {
      var canvas = viewer.get("canvas"), registry = viewer.get("elementRegistry"), overlays = viewer.get("overlays");
      function mark(ids, kind, label) {
        ids.forEach(function (id) {
          if (!registry.get(id)) { return; }
          canvas.addMarker(id, "pmo-mark-" + kind);
          if (label) { overlays.add(id, "pmo-mark", { position: { top: -11, left: 4 }, html: badge(label, kind) }); }
        });
      }
      mark(marks.flows, "path");
      mark(marks.completed, "done", "Done");
      mark(marks.current, "current", "Here");
      mark(Object.keys(marks.calls), "call");
      return marks.current;
    };
  }

  /* The words under the diagram follow the level shown. */
  function describe(marks, xmlUrl) {
    var words = card.querySelector(".here-words");
    if (!words) { return; }
    words.textContent = "";
    var lead = document.createElement("p");
    lead.textContent = marks.current_steps.length ? marks.name + " is at:"
      : marks.name + (marks.state === "done" ? " is done." : " has not been reached yet.");
    words.appendChild(lead);
    if (marks.current_steps.length) {
      var list = document.createElement("ul");
      marks.current_steps.forEach(function (step) {
        var item = document.createElement("li");
        item.textContent = step.name;
        if (step.held_by) {
          var who = document.createElement("span");
          who.className = "muted";
          who.textContent = " — with " + step.held_by;
          item.appendChild(who);
        }
        list.appendChild(item);
      });
      words.appendChild(list);
    }
    var download = document.createElement("p"), link = document.createElement("a");
    download.className = "small";
    link.href = xmlUrl;
    link.setAttribute("download", marks.process + ".bpmn");
    link.textContent = "Download the BPMN file of " + marks.name;
    download.appendChild(link);
    words.appendChild(download);
  }

  var diagram = null;
  var calls = {};

  function show(xmlUrl, marksUrl) {
    return fetch(marksUrl, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (marks) {
        calls = marks.calls || {};
        box.setAttribute("aria-label", "Diagram of " + marks.name +
                         ": the steps done, the current steps and the path taken are marked");
        box.setAttribute("data-process", marks.process);
        describe(marks, xmlUrl);
        return diagram.load(xmlUrl, decorate(marks));
      })
      .catch(diagram.failed);
  }

  /* Open a level (from the nav or a call activity); the address keeps it for a reload. */
  function open(level) {
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", level.getAttribute("href"));
    }
    return show(level.getAttribute("data-xml-url"), level.getAttribute("data-marks-url"));
  }

  function draw() {
    if (!window.PmoDiagram) { return; }
    diagram = window.PmoDiagram.attach(card, box, { level: open });
    if (!diagram) { return; }
    diagram.viewer.get("eventBus").on("element.click", function (event) {
      var called = calls[event.element.id];
      if (!called) { return; }
      var level = card.querySelector('.diagram-level[data-process="' + window.CSS.escape(called.process) + '"]');
      if (level) { diagram.select(level); open(level); } else { show(called.xml_url, called.marks_url); }
    });
    show(box.getAttribute("data-xml-url"), box.getAttribute("data-marks-url"));
  }
  if (document.readyState === "complete") { draw(); } else { window.addEventListener("load", draw); }
})();
