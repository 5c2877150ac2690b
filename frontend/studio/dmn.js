// The decision table editor (dmn-js) and the hit policy checks that matter for this engine.
// SpiffWorkflow 3.2 knows two hit policies (SpiffWorkflow/dmn/specs/model.py, engine/DMNEngine.py):
//   UNIQUE  - it stops at the FIRST matching rule, so rule order decides (overlaps are not refused);
//   COLLECT - every matching rule; each output becomes a list of values. Aggregation is ignored.
// Any other policy is read but has no behaviour of its own: the first match is used.
import DmnModeler from "dmn-js/lib/Modeler";

const KNOWN = new Set(["UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER", "OUTPUT ORDER"]);

/** What this engine does with one decision table's hit policy: [{severity, message}]. */
export function checkHitPolicy(table) {
  const problems = [];
  const policy = table.hitPolicy || "";
  const outputs = table.output || [];
  const rules = table.rule || [];
  if (!policy) {
    problems.push({ severity: "warning",
      message: "No hit policy is set: the engine uses UNIQUE and takes the first matching rule." });
  } else if (!KNOWN.has(policy)) {
    problems.push({ severity: "error", message: `'${policy}' is not a DMN hit policy.` });
  } else if (policy === "UNIQUE") {
    problems.push({ severity: "info",
      message: "UNIQUE: the engine takes the first matching rule and does not check that rules do not overlap, so keep the rules in order of precedence." });
  } else if (policy === "FIRST") {
    problems.push({ severity: "info", message: "FIRST: the first matching rule wins; rule order matters." });
  } else if (policy === "PRIORITY" || policy === "ANY") {
    problems.push({ severity: "warning",
      message: `${policy} is not implemented by the engine: it takes the first matching rule in table order${policy === "PRIORITY" ? " and ignores output value priorities" : " and does not check that overlapping rules agree"}.` });
  } else if (policy === "RULE ORDER" || policy === "OUTPUT ORDER") {
    problems.push({ severity: "error",
      message: `${policy} should return every match as a list, but the engine returns only the first match: use COLLECT.` });
  } else if (policy === "COLLECT") {
    if (table.aggregation) {
      problems.push({ severity: "error",
        message: `COLLECT with ${table.aggregation}: the engine ignores the aggregation and returns lists; compute the ${table.aggregation.toLowerCase()} in a script.` });
    } else if (outputs.length === 1) {
      problems.push({ severity: "warning",
        message: `COLLECT without aggregation: '${outputs[0].name || outputs[0].label || "the output"}' becomes a list of every matching value, not one value.` });
    } else {
      problems.push({ severity: "warning",
        message: "COLLECT: every output becomes a list (one item per matching rule)." });
    }
  }
  if (!rules.length) {
    problems.push({ severity: "warning", message: "The table has no rules: it never sets its outputs." });
  }
  if (outputs.some((o) => !o.name)) {
    problems.push({ severity: "error", message: "An output has no name, so it sets no process variable." });
  }
  return problems;
}

/** [{decision, name, hitPolicy, problems}] for every decision table in the definitions. */
export function hitPolicies(definitions) {
  const found = [];
  for (const element of (definitions && definitions.drgElement) || []) {
    const logic = element.decisionLogic;
    if (!logic || logic.$type !== "dmn:DecisionTable") continue;
    found.push({ decision: element.id, name: element.name || element.id, hitPolicy: logic.hitPolicy || "UNIQUE",
      aggregation: logic.aggregation || null, problems: checkHitPolicy(logic) });
  }
  return found;
}

/** The DMN editor; opens the first decision table. Resolves {getXML, hitPolicies, onChange, modeler}. */
export async function dmnEditor(container, xml) {
  const instance = new DmnModeler({ container });
  const result = await instance.importXML(xml);
  const table = instance.getViews().find((view) => view.type === "decisionTable");
  if (table) await instance.open(table);
  const listeners = [];
  const watch = () => {
    const viewer = instance.getActiveViewer();
    if (viewer && !viewer.__pmoWatched) {
      viewer.__pmoWatched = true;
      viewer.get("eventBus").on("elements.changed", () => listeners.forEach((cb) => cb()));
    }
  };
  instance.on("views.changed", watch);
  watch();
  return {
    modeler: instance,
    importWarnings: (result.warnings || []).map((w) => w.message),
    async getXML() {
      const { xml: out } = await instance.saveXML({ format: true });
      return out;
    },
    hitPolicies: () => hitPolicies(instance.getDefinitions()),
    onChange(callback) {
      listeners.push(callback);
    },
    destroy() {
      instance.destroy();
    },
  };
}
