// The BPMN viewer and editor: bpmn-js with the spiffworkflow: descriptor, the properties panel with
// the PMO Flow group, problems drawn on the canvas, bpmnlint, and a round trip that keeps what
// bpmn-js would otherwise drop.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import BpmnModeler from "bpmn-js/lib/Modeler";
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from "bpmn-js-properties-panel";
import { Linter } from "bpmnlint";
import lintConfig from "pmo:bpmnlint-config";
import spiffworkflow from "../spiffworkflow.json";
import { pmoPropertiesModule } from "./pmo-properties.js";

export const MARKS = ["added", "changed", "removed", "path", "error"];

// References SpiffWorkflow resolves as process variable names, which bpmn-js cannot resolve to
// elements: on import it warns "unresolved reference" and saveXML would leave them out (the CCB
// vote in change_request.bpmn would then have no ballots to iterate).
const VARIABLE_REFERENCES = new Set(["bpmn:loopDataInputRef", "bpmn:loopDataOutputRef"]);

/** Put the variable references bpmn-js could not resolve back, as plain {id} values that saveXML
 * writes as the reference text. Returns the import warnings that remain real. */
export function restoreVariableReferences(warnings) {
  const remaining = [];
  for (const warning of warnings || []) {
    const reference = /^unresolved reference <(.*)>$/.exec(warning.message || "");
    if (reference && warning.element && VARIABLE_REFERENCES.has(warning.property)) {
      warning.element.set(warning.property, { id: reference[1] });
    } else {
      remaining.push(warning);
    }
  }
  return remaining;
}

function hasLayout(definitions) {
  return (definitions && definitions.diagrams || []).some(
    (diagram) => diagram.plane && (diagram.plane.planeElement || []).length > 0);
}

/** Import `xml`, keeping the variable references; resolves to {definitions, warnings, hasLayout}.
 * A diagram without layout (no BPMNDiagram or an empty plane) is not drawn: hasLayout false. */
async function importKeepingReferences(instance, xml) {
  let parsed = null;
  const onParsed = (event) => {
    parsed = { definitions: event.definitions, warnings: restoreVariableReferences(event.warnings) };
    event.warnings.length = 0;
    event.warnings.push(...parsed.warnings);
  };
  instance.on("import.parse.complete", 2000, onParsed);
  try {
    await instance.importXML(xml);
  } catch (error) {
    if (parsed && !hasLayout(parsed.definitions)) return { ...parsed, hasLayout: false };
    throw error;
  } finally {
    instance.off("import.parse.complete", onParsed);
  }
  return { ...parsed, hasLayout: hasLayout(parsed.definitions) };
}

function applyMarks(canvas, elementRegistry, marks) {
  for (const [id, kind] of Object.entries(marks || {})) {
    if (MARKS.includes(kind) && elementRegistry.get(id)) canvas.addMarker(id, `pmo-mark-${kind}`);
  }
}

/** A read-only diagram with marker classes; resolves {hasLayout} (false: nothing to draw). */
export async function viewer(container, xml, options = {}) {
  const instance = new NavigatedViewer({ container, moddleExtensions: { spiffworkflow } });
  const result = await importKeepingReferences(instance, xml);
  if (!result.hasLayout) {
    instance.destroy();
    container.replaceChildren();
    return { hasLayout: false, viewer: null };
  }
  const canvas = instance.get("canvas");
  applyMarks(canvas, instance.get("elementRegistry"), options.marks);
  canvas.zoom("fit-viewport", "auto");
  return { hasLayout: true, viewer: instance };
}

function badge(problems) {
  const worst = problems.some((p) => p.severity === "error") ? "error" : "warning";
  const box = document.createElement("div");
  box.className = `pmo-badge pmo-badge--${worst}`;
  box.tabIndex = 0;
  box.setAttribute("role", "img");
  const text = problems.map((p) => p.message).join("\n");
  box.setAttribute("aria-label", `${problems.length} ${worst === "error" ? "error" : "warning"}(s): ${text}`);
  const count = document.createElement("span");
  count.className = "pmo-badge-count";
  count.textContent = worst === "error" ? `!${problems.length > 1 ? problems.length : ""}` : `${problems.length}`;
  const tip = document.createElement("ul");
  tip.className = "pmo-badge-tip";
  for (const problem of problems) {
    const item = document.createElement("li");
    item.className = `pmo-badge-tip-${problem.severity}`;
    item.textContent = problem.message;
    tip.append(item);
  }
  box.append(count, tip);
  return box;
}

/** bpmnlint's findings as problems: every lint issue is a warning (they never block publishing). */
function lintProblems(results) {
  const problems = [];
  for (const [rule, issues] of Object.entries(results || {})) {
    for (const issue of issues) {
      problems.push({ element: issue.id, message: `${issue.message} (${rule})`, severity: "warning", rule });
    }
  }
  return problems;
}

const nextFrame = () => new Promise((resolve) => { requestAnimationFrame(() => setTimeout(resolve, 0)); });

/** The panel subscribes to selection changes in an effect after its first paint: an element
 * selected before that would not be shown. Wait for it (at most about a second). */
async function panelReady(panelEl) {
  for (let i = 0; i < 60 && !panelEl.querySelector(".bio-properties-panel-header"); i += 1) await nextFrame();
  await nextFrame();
  await nextFrame();
}

/** The editor: resolves to {getXML, onChange, showProblems, lint, select, importWarnings, modeler}. */
export async function modeler(canvasEl, panelEl, xml, context = {}) {
  const instance = new BpmnModeler({
    container: canvasEl,
    // The PMO Flow group and an element's problems open first: they are what the owner came for.
    propertiesPanel: { parent: panelEl, layout: { groups: { "pmo-flow": { open: true }, "pmo-problems": { open: true } } } },
    moddleExtensions: { spiffworkflow },
    pmoStudio: context,
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, pmoPropertiesModule],
  });
  // Parse first: a diagram without layout is refused before an import starts (the linter would
  // otherwise lint a destroyed modeler after the failed import).
  let parsed;
  try {
    parsed = await instance.get("moddle").fromXML(xml, "bpmn:Definitions");
  } catch (error) {
    instance.destroy();
    throw error;
  }
  if (!hasLayout(parsed.rootElement)) {
    instance.destroy();
    const error = new Error("This diagram has no layout (no BPMN diagram interchange), so it cannot be drawn.");
    error.code = "no-layout";
    throw error;
  }
  const result = await importKeepingReferences(instance, xml);
  await panelReady(panelEl);
  const canvas = instance.get("canvas");
  const overlays = instance.get("overlays");
  const registry = instance.get("elementRegistry");
  const eventBus = instance.get("eventBus");
  const pmoProblems = instance.get("pmoProblems");
  canvas.zoom("fit-viewport", "auto");
  let marked = [];
  let pathMarks = [];

  /** The shape of an element id; a process id (what the engine names) is drawn as its pool. */
  function shapeOf(id) {
    if (!id) return null;
    return registry.get(id) || registry.find((e) => e.type === "bpmn:Participant"
      && e.businessObject.processRef && e.businessObject.processRef.id === id) || null;
  }

  function showProblems(problems) {
    overlays.remove({ type: "pmo-problem" });
    for (const [id, kind] of marked) if (registry.get(id)) canvas.removeMarker(id, kind);
    marked = [];
    const placed = [];
    const unplaced = [];
    const byElement = new Map();
    for (const given of problems || []) {
      const shape = shapeOf(given.element);
      if (shape) {
        const problem = { ...given, element: shape.id };
        placed.push(problem);
        if (!byElement.has(shape.id)) byElement.set(shape.id, []);
        byElement.get(shape.id).push(problem);
      } else {
        unplaced.push(given);
      }
    }
    for (const [id, list] of byElement) {
      const kind = list.some((p) => p.severity === "error") ? "pmo-has-error" : "pmo-has-warning";
      canvas.addMarker(id, kind);
      marked.push([id, kind]);
      const element = registry.get(id);
      const position = element.waypoints ? { top: -12, left: -12 } : { top: -12, right: 12 };
      // Unscaled: the badge stays readable when the whole diagram is zoomed to fit.
      overlays.add(id, "pmo-problem", { position, scale: false, html: badge(list) });
    }
    // Redraw the panel only when the selected element's problems changed: a redraw would take
    // the focus from a field being typed in (lint runs after every change).
    const changed = pmoProblems.set(placed);
    const selected = instance.get("selection").get();
    if (selected.some((element) => changed.has(element.id))) eventBus.fire("propertiesPanel.providersChanged");
    return { placed, unplaced };
  }

  return {
    modeler: instance,
    importWarnings: result.warnings.map((w) => w.message),
    async getXML() {
      const { xml: out } = await instance.saveXML({ format: true });
      return out;
    },
    onChange(callback) {
      eventBus.on("commandStack.changed", () => callback());
    },
    showProblems,
    /** Replace the marks (added/changed/removed/path/error) drawn on elements, as the viewer draws them. */
    mark(marks) {
      for (const [id, kind] of pathMarks) if (registry.get(id)) canvas.removeMarker(id, kind);
      pathMarks = Object.entries(marks || {}).filter(([id, kind]) => MARKS.includes(kind) && registry.get(id))
        .map(([id, kind]) => [id, `pmo-mark-${kind}`]);
      for (const [id, kind] of pathMarks) canvas.addMarker(id, kind);
    },
    /** bpmnlint on the current diagram, on demand (bpmn-js-bpmnlint would lint after every change,
     * even with its overlays off, and again after the modeler is gone). */
    async lint() {
      // A new Linter each time: some rules keep state between runs of one instance.
      return lintProblems(await new Linter(lintConfig).lint(instance.getDefinitions()));
    },
    /** An element as a person names it: its name, else its kind ("unnamed end event"); never its id. */
    describe(elementId) {
      const element = shapeOf(elementId);
      if (!element) return "";
      const name = (element.businessObject.name || "").trim();
      const kind = element.type.replace(/^bpmn:/, "").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
      return name ? `${kind} “${name}”` : `unnamed ${kind}`;
    },
    select(elementId) {
      const element = shapeOf(elementId);
      if (!element) return false;
      instance.get("selection").select(element);
      canvas.scrollToElement(element);
      return true;
    },
    destroy() {
      instance.destroy();
    },
  };
}
