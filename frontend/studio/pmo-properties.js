// The "PMO Flow" properties group: what this engine reads from an element (app/engine/bundle.py,
// task_info.py, instances/commands.py), each entry only on the elements where the engine reads it.
import htm from "htm";
import { h } from "@bpmn-io/properties-panel/preact";
import {
  CheckboxEntry, SelectEntry, TextAreaEntry, TextFieldEntry, isCheckboxEntryEdited, isSelectEntryEdited,
  isTextAreaEntryEdited, isTextFieldEntryEdited,
} from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { is, getBusinessObject } from "bpmn-js/lib/util/ModelUtil";
import {
  bodyValue, operatorOf, operatorParameters, propertyValue, setBodyValue, setOperator, setOperatorAttribute,
  setParameter, setPropertyValue,
} from "./spiff.js";

// One preact: the panel's own (a second copy from htm/preact would break its hooks).
const html = htm.bind(h);

// A lane named process_initiator offers its tasks to whoever started the instance (bundle.py).
const INITIATOR_LANE = "process_initiator";
// Tasks the engine puts in the inbox: user and manual tasks, and a plain bpmn:task (spiffworkflow notes).
const HUMAN_TASKS = ["bpmn:UserTask", "bpmn:ManualTask"];
const TIMER_KINDS = [
  { value: "timeDuration", label: "Duration (wait this long)" },
  { value: "timeDate", label: "Date (wait until)" },
  { value: "timeCycle", label: "Cycle (repeat)" },
];

function isHumanTask(element) {
  const bo = getBusinessObject(element);
  return HUMAN_TASKS.some((type) => is(bo, type)) || bo.$type === "bpmn:Task";
}

function services() {
  return { bpmnFactory: useService("bpmnFactory"), modeling: useService("modeling") };
}

function names(list) {
  return (list || []).map((item) => (typeof item === "string" ? { value: item, label: item }
    : { value: item.name || item.id, label: item.label || item.title || item.name || item.id }));
}

function withCurrent(options, current, emptyLabel) {
  const all = [{ value: "", label: emptyLabel }, ...options];
  if (current && !options.some((o) => o.value === current)) {
    all.push({ value: current, label: `${current} (not in this bundle)` });
  }
  return all;
}

// --- entry components --------------------------------------------------------------------------

function PropertySelect({ element, id, label, name, choices, empty, description }) {
  const svc = services();
  return SelectEntry({
    element, id, label, description,
    getValue: () => propertyValue(element, name),
    setValue: (value) => setPropertyValue(element, name, value, svc),
    getOptions: () => withCurrent(choices(), propertyValue(element, name), empty),
  });
}

function PropertyText({ element, id, label, name, description }) {
  const svc = services();
  const debounce = useService("debounceInput");
  return TextFieldEntry({
    element, id, label, description, debounce,
    getValue: () => propertyValue(element, name),
    setValue: (value) => setPropertyValue(element, name, value, svc),
  });
}

function BodyText({ element, id, label, type, description, monospace = true, rows = 6 }) {
  const svc = services();
  const debounce = useService("debounceInput");
  return TextAreaEntry({
    element, id, label, description, debounce, monospace, rows,
    getValue: () => bodyValue(element, type),
    setValue: (value) => setBodyValue(element, type, value, svc),
  });
}

function ScriptText({ element, id }) {
  const modeling = useService("modeling");
  const debounce = useService("debounceInput");
  return TextAreaEntry({
    element, id, label: "Script (Python)", debounce, monospace: true, rows: 10,
    description: "Runs in the sandbox when the task is reached; it reads and sets process variables.",
    getValue: () => getBusinessObject(element).script || "",
    setValue: (value) => modeling.updateProperties(element, { script: value || undefined, scriptFormat: "python" }),
  });
}

function ConditionText({ element, id }) {
  const modeling = useService("modeling");
  const bpmnFactory = useService("bpmnFactory");
  const debounce = useService("debounceInput");
  return TextFieldEntry({
    element, id, label: "Condition (Python expression)", debounce,
    description: "The flow is taken when this is true, e.g. decision == 'approve'. Leave empty on the default flow.",
    getValue: () => {
      const condition = getBusinessObject(element).conditionExpression;
      return condition ? condition.body || "" : "";
    },
    setValue: (value) => {
      const condition = (value || "").trim()
        ? bpmnFactory.create("bpmn:FormalExpression", { body: value }) : undefined;
      modeling.updateProperties(element, { conditionExpression: condition });
    },
  });
}

function DefaultFlow({ element, id }) {
  const modeling = useService("modeling");
  const flow = getBusinessObject(element);
  return CheckboxEntry({
    element, id, label: "Default flow",
    description: "Taken when no other flow's condition holds; a default flow has no condition.",
    getValue: () => flow.sourceRef.default === flow,
    setValue: (checked) => {
      if (checked && flow.conditionExpression) modeling.updateProperties(element, { conditionExpression: undefined });
      modeling.updateProperties(element.source, { default: checked ? flow : undefined });
    },
  });
}

function timerDefinition(element) {
  const definitions = getBusinessObject(element).eventDefinitions || [];
  return definitions.find((d) => is(d, "bpmn:TimerEventDefinition"));
}

function timerKind(definition) {
  return TIMER_KINDS.map((k) => k.value).find((k) => definition.get(k)) || "";
}

function TimerKind({ element, id }) {
  const modeling = useService("modeling");
  const bpmnFactory = useService("bpmnFactory");
  const definition = timerDefinition(element);
  return SelectEntry({
    element, id, label: "Timer",
    getValue: () => timerKind(definition),
    getOptions: () => [{ value: "", label: "Not set" }, ...TIMER_KINDS],
    setValue: (kind) => {
      const old = timerKind(definition);
      const text = old ? definition.get(old).body : "";
      const update = Object.fromEntries(TIMER_KINDS.map((k) => [k.value, undefined]));
      if (kind) update[kind] = bpmnFactory.create("bpmn:FormalExpression", { body: text || "" });
      modeling.updateModdleProperties(element, definition, update);
    },
  });
}

function TimerExpression({ element, id }) {
  const modeling = useService("modeling");
  const bpmnFactory = useService("bpmnFactory");
  const debounce = useService("debounceInput");
  const definition = timerDefinition(element);
  return TextFieldEntry({
    element, id, label: "Timer expression (Python)", debounce,
    description: 'A Python expression: quote ISO 8601 values ("P2D", "R/P14D"), or call working_days_from_now(2).',
    getValue: () => {
      const kind = timerKind(definition);
      return kind ? definition.get(kind).body || "" : "";
    },
    setValue: (value) => {
      const kind = timerKind(definition) || "timeDuration";
      modeling.updateModdleProperties(element, definition, {
        [kind]: bpmnFactory.create("bpmn:FormalExpression", { body: value || "" }),
      });
    },
  });
}

function CalledDecision({ element, id }) {
  const svc = services();
  const context = useService("config.pmoStudio") || {};
  const type = "spiffworkflow:CalledDecisionId";
  return SelectEntry({
    element, id, label: "Decision table",
    description: "The DMN decision this task evaluates; its outputs become process variables.",
    getValue: () => bodyValue(element, type),
    setValue: (value) => setBodyValue(element, type, value, svc),
    getOptions: () => withCurrent(names(context.decisions), bodyValue(element, type), "No decision"),
  });
}

function OperatorSelect({ element, id }) {
  const svc = services();
  const context = useService("config.pmoStudio") || {};
  const current = () => (operatorOf(element) ? operatorOf(element).id || "" : "");
  return SelectEntry({
    element, id, label: "Operator",
    description: "The registered PMO Flow operation this service task calls.",
    getValue: current,
    setValue: (value) => setOperator(element, value, svc),
    getOptions: () => withCurrent(names(context.operators), current(), "No operator"),
  });
}

function OperatorResult({ element, id }) {
  const svc = services();
  const debounce = useService("debounceInput");
  return TextFieldEntry({
    element, id, label: "Result variable", debounce,
    description: "The process variable that receives what the operator returns.",
    getValue: () => (operatorOf(element) ? operatorOf(element).resultVariable || "" : ""),
    setValue: (value) => setOperatorAttribute(element, "resultVariable", value, svc),
  });
}

function OperatorParameter({ element, id, parameter }) {
  const svc = services();
  const debounce = useService("debounceInput");
  return TextFieldEntry({
    element, id, label: parameter, debounce,
    getValue: () => (operatorParameters(element)[parameter] || {}).value || "",
    setValue: (value) => setParameter(element, parameter, value, svc),
  });
}

function LaneRole({ element, id }) {
  const modeling = useService("modeling");
  const context = useService("config.pmoStudio") || {};
  const options = () => {
    const roles = names(context.roles);
    if (!roles.some((r) => r.value === INITIATOR_LANE)) {
      roles.push({ value: INITIATOR_LANE, label: "Whoever started the process" });
    }
    return withCurrent(roles, getBusinessObject(element).name || "", "No role (the process starter)");
  };
  return SelectEntry({
    element, id, label: "Role",
    description: "The lane's name is the role its tasks are offered to.",
    getValue: () => getBusinessObject(element).name || "",
    setValue: (value) => modeling.updateProperties(element, { name: value || undefined }),
    getOptions: options,
  });
}

function ProblemEntry({ problem }) {
  return html`<div class="pmo-panel-problem pmo-panel-problem--${problem.severity}" role="note">
    <strong>${problem.severity === "error" ? "Error" : "Warning"}:</strong> ${problem.message}
  </div>`;
}

// --- which entries an element gets -----------------------------------------------------------

function formEntries(element, context) {
  const forms = () => names(context.forms);
  const schemas = () => forms().filter((f) => !/uischema/i.test(f.value));
  const uiSchemas = () => forms().filter((f) => /uischema/i.test(f.value));
  return [
    { id: "pmo-form-schema", component: PropertySelect, isEdited: isSelectEntryEdited, element,
      label: "Form (JSON Schema)", name: "formJsonSchemaFilename", choices: schemas, empty: "No form" },
    { id: "pmo-form-uischema", component: PropertySelect, isEdited: isSelectEntryEdited, element,
      label: "Form layout (UI schema)", name: "formUiSchemaFilename", choices: uiSchemas, empty: "No layout" },
    { id: "pmo-instructions", component: BodyText, isEdited: isTextAreaEntryEdited, element,
      label: "Instructions (Markdown)", type: "spiffworkflow:InstructionsForEndUser", monospace: false, rows: 8,
      description: "Shown above the form; {{ variable }} inserts a process variable." },
    { id: "pmo-due-in", component: PropertyText, isEdited: isTextFieldEntryEdited, element,
      label: "Due in", name: "dueIn", description: "An ISO 8601 duration from when the task is ready, e.g. P3D." },
    { id: "pmo-priority", component: PropertyText, isEdited: isTextFieldEntryEdited, element,
      label: "Priority", name: "priority", description: "A whole number; lower comes first in the inbox (default 50)." },
    { id: "pmo-exclude-users", component: PropertyText, isEdited: isTextFieldEntryEdited, element,
      label: "Kept out (segregation of duties)", name: "excludeUsers",
      description: "Comma-separated process variables holding people who may not act on this task." },
  ];
}

function scriptEntries(element) {
  return [
    { id: "pmo-pre-script", component: BodyText, isEdited: isTextAreaEntryEdited, element,
      label: "Pre-script (Python)", type: "spiffworkflow:PreScript", description: "Runs before the task starts." },
    { id: "pmo-post-script", component: BodyText, isEdited: isTextAreaEntryEdited, element,
      label: "Post-script (Python)", type: "spiffworkflow:PostScript", description: "Runs after the task completes." },
  ];
}

function operatorEntries(element, context) {
  const entries = [
    { id: "pmo-operator", component: OperatorSelect, isEdited: isSelectEntryEdited, element },
  ];
  const operator = operatorOf(element);
  if (!operator) return entries;
  entries.push({ id: "pmo-operator-result", component: OperatorResult, isEdited: isTextFieldEntryEdited, element });
  const known = (context.operators || []).find((o) => (o.name || o) === operator.id);
  const wanted = [...((known && known.parameters) || [])];
  for (const id of Object.keys(operatorParameters(element))) {
    if (!wanted.includes(id)) wanted.push(id);
  }
  for (const parameter of wanted) {
    entries.push({ id: `pmo-param-${parameter}`, component: OperatorParameter, isEdited: isTextFieldEntryEdited,
      element, parameter });
  }
  return entries;
}

function isConditionalFlow(element) {
  const bo = getBusinessObject(element);
  return is(bo, "bpmn:SequenceFlow") && bo.sourceRef
    && ["bpmn:ExclusiveGateway", "bpmn:InclusiveGateway", "bpmn:ComplexGateway"].some((t) => is(bo.sourceRef, t));
}

/** The PMO Flow entries of `element` (empty when the engine reads nothing from it). */
export function pmoEntries(element, context) {
  const bo = getBusinessObject(element);
  const entries = [];
  if (isHumanTask(element)) entries.push(...formEntries(element, context));
  if (is(bo, "bpmn:ScriptTask")) entries.push({ id: "pmo-script", component: ScriptText, isEdited: isTextAreaEntryEdited, element });
  if (is(bo, "bpmn:ServiceTask")) entries.push(...operatorEntries(element, context));
  if (is(bo, "bpmn:BusinessRuleTask")) entries.push({ id: "pmo-decision", component: CalledDecision, isEdited: isSelectEntryEdited, element });
  if (is(bo, "bpmn:Activity")) entries.push(...scriptEntries(element));
  if (isConditionalFlow(element)) {
    entries.push({ id: "pmo-default-flow", component: DefaultFlow, isEdited: isCheckboxEntryEdited, element });
    if (bo.sourceRef.default !== bo) {
      entries.push({ id: "pmo-condition", component: ConditionText, isEdited: isTextFieldEntryEdited, element });
    }
  }
  if (timerDefinition(element)) {
    entries.push({ id: "pmo-timer-kind", component: TimerKind, isEdited: isSelectEntryEdited, element });
    if (timerKind(timerDefinition(element))) {
      entries.push({ id: "pmo-timer", component: TimerExpression, isEdited: isTextFieldEntryEdited, element });
    }
  }
  if (is(bo, "bpmn:Lane")) entries.push({ id: "pmo-lane-role", component: LaneRole, isEdited: isSelectEntryEdited, element });
  return entries;
}

/** bpmn-js-properties-panel provider: a "Problems" group (when there are any) and the "PMO Flow" group first. */
export function PmoPropertiesProvider(propertiesPanel, config, pmoProblems) {
  const context = config || {};
  this.getGroups = (element) => (groups) => {
    const mine = [];
    const problems = pmoProblems.forElement(element.id);
    if (problems.length) {
      mine.push({ id: "pmo-problems", label: `Problems (${problems.length})`,
        entries: problems.map((problem, i) => ({ id: `pmo-problem-${i}`, component: ProblemEntry, problem })) });
    }
    const entries = pmoEntries(element, context);
    if (entries.length) mine.push({ id: "pmo-flow", label: "PMO Flow", entries });
    const general = groups.findIndex((g) => g.id === "general");
    groups.splice(general < 0 ? 0 : general + 1, 0, ...mine);
    return groups;
  };
  propertiesPanel.registerProvider(400, this);
}
PmoPropertiesProvider.$inject = ["propertiesPanel", "config.pmoStudio", "pmoProblems"];

/** The problems shown on the canvas, by element id, for the panel's Problems group. */
export function PmoProblems(eventBus) {
  let byElement = new Map();
  this.forElement = (id) => byElement.get(id) || [];
  this.set = (problems) => {
    byElement = new Map();
    for (const problem of problems) {
      if (!byElement.has(problem.element)) byElement.set(problem.element, []);
      byElement.get(problem.element).push(problem);
    }
    eventBus.fire("pmoProblems.changed", {});
  };
}
PmoProblems.$inject = ["eventBus"];

export const pmoPropertiesModule = {
  __init__: ["pmoPropertiesProvider"],
  pmoProblems: ["type", PmoProblems],
  pmoPropertiesProvider: ["type", PmoPropertiesProvider],
};
