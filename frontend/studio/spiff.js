// Reading and writing the spiffworkflow: extension elements of a BPMN business object, through
// bpmn-js's modeling service so every change is one undoable command and fires commandStack.changed.
import { is, getBusinessObject } from "bpmn-js/lib/util/ModelUtil";

export const SPIFF = "spiffworkflow";

/** The first extension element of `type` on `bo`, or undefined. */
export function extension(bo, type) {
  const values = (bo && bo.extensionElements && bo.extensionElements.get("values")) || [];
  return values.find((value) => is(value, type));
}

/** The value of the spiffworkflow:property `name` (the engine reads them as task/process properties). */
export function propertyValue(element, name) {
  const container = extension(getBusinessObject(element), "spiffworkflow:Properties");
  const found = container && container.get("properties").find((p) => p.name === name);
  return found ? found.value || "" : "";
}

/** The text of a body extension (spiffworkflow:preScript, instructionsForEndUser, ...). */
export function bodyValue(element, type) {
  const found = extension(getBusinessObject(element), type);
  return found ? found.value || "" : "";
}

/** The element's extensionElements, created (in the same command stack) when it has none. */
function ensureExtensionElements(element, bpmnFactory, modeling) {
  const bo = getBusinessObject(element);
  let container = bo.extensionElements;
  if (!container) {
    container = bpmnFactory.create("bpmn:ExtensionElements", { values: [] });
    modeling.updateModdleProperties(element, bo, { extensionElements: container });
  }
  return container;
}

function addExtension(element, child, bpmnFactory, modeling) {
  const container = ensureExtensionElements(element, bpmnFactory, modeling);
  child.$parent = container;
  modeling.updateModdleProperties(element, container, { values: [...container.get("values"), child] });
}

function removeExtension(element, child, modeling) {
  const container = getBusinessObject(element).extensionElements;
  modeling.updateModdleProperties(element, container, {
    values: container.get("values").filter((value) => value !== child),
  });
}

/** Set (or, for an empty value, remove) the spiffworkflow:property `name`. */
export function setPropertyValue(element, name, value, { bpmnFactory, modeling }) {
  const bo = getBusinessObject(element);
  let container = extension(bo, "spiffworkflow:Properties");
  const wanted = (value || "").trim() ? value : "";
  const existing = container && container.get("properties").find((p) => p.name === name);
  if (existing && !wanted) {
    modeling.updateModdleProperties(element, container, {
      properties: container.get("properties").filter((p) => p !== existing),
    });
    return;
  }
  if (!wanted) return;
  if (existing) {
    modeling.updateModdleProperties(element, existing, { value: wanted });
    return;
  }
  if (!container) {
    container = bpmnFactory.create("spiffworkflow:Properties", { properties: [] });
    addExtension(element, container, bpmnFactory, modeling);
  }
  const property = bpmnFactory.create("spiffworkflow:Property", { name, value: wanted });
  property.$parent = container;
  modeling.updateModdleProperties(element, container, { properties: [...container.get("properties"), property] });
}

/** Set (or, for an empty text, remove) a body extension such as spiffworkflow:preScript. */
export function setBodyValue(element, type, value, { bpmnFactory, modeling }) {
  const existing = extension(getBusinessObject(element), type);
  const wanted = (value || "").trim() ? value : "";
  if (existing && !wanted) {
    removeExtension(element, existing, modeling);
  } else if (existing) {
    modeling.updateModdleProperties(element, existing, { value: wanted });
  } else if (wanted) {
    addExtension(element, bpmnFactory.create(type, { value: wanted }), bpmnFactory, modeling);
  }
}

/** The service task operator element (spiffworkflow:serviceTaskOperator), if any. */
export function operatorOf(element) {
  return extension(getBusinessObject(element), "spiffworkflow:ServiceTaskOperator");
}

/** Parameters of the operator as {id: {type, value, element}}. */
export function operatorParameters(element) {
  const operator = operatorOf(element);
  const list = operator && operator.parameterList ? operator.parameterList.get("parameters") : [];
  return Object.fromEntries(list.map((p) => [p.id, { type: p.type, value: p.value || "", element: p }]));
}

/** Choose the operator by name (creating the extension), or remove it for an empty name. */
export function setOperator(element, name, services) {
  const { bpmnFactory, modeling } = services;
  const existing = operatorOf(element);
  if (!name) {
    if (existing) removeExtension(element, existing, modeling);
    return;
  }
  if (existing) {
    modeling.updateModdleProperties(element, existing, { id: name });
  } else {
    const operator = bpmnFactory.create("spiffworkflow:ServiceTaskOperator", { id: name });
    addExtension(element, operator, bpmnFactory, modeling);
  }
}

export function setOperatorAttribute(element, attribute, value, { modeling }) {
  const operator = operatorOf(element);
  if (operator) modeling.updateModdleProperties(element, operator, { [attribute]: value || undefined });
}

/** Set one operator parameter's value expression; an empty value removes the parameter. */
export function setParameter(element, id, value, { bpmnFactory, modeling }) {
  const operator = operatorOf(element);
  if (!operator) return;
  let list = operator.parameterList;
  const existing = list && list.get("parameters").find((p) => p.id === id);
  if (existing && !(value || "").trim()) {
    modeling.updateModdleProperties(element, list, { parameters: list.get("parameters").filter((p) => p !== existing) });
    return;
  }
  if (existing) {
    modeling.updateModdleProperties(element, existing, { value });
    return;
  }
  if (!(value || "").trim()) return;
  if (!list) {
    list = bpmnFactory.create("spiffworkflow:Parameters", { parameters: [] });
    list.$parent = operator;
    modeling.updateModdleProperties(element, operator, { parameterList: list });
  }
  // The engine evaluates the value as a Python expression; "any" keeps the operator's own typing.
  const parameter = bpmnFactory.create("spiffworkflow:Parameter", { id, type: "any", value });
  parameter.$parent = list;
  modeling.updateModdleProperties(element, list, { parameters: [...list.get("parameters"), parameter] });
}
