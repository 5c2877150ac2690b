// The form editor's helpers: JSON syntax checking with a line and column, and the field snippets
// (shapes app/inbox/formrender.py draws: text, textarea, money, date, select, checkboxes, array of rows).

export const SNIPPETS = {
  text: { label: "Text", key: "text", schema: { type: "string", title: "Text", maxLength: 200 } },
  longText: { label: "Long text", key: "notes", schema: { type: "string", title: "Notes" },
    ui: { "ui:widget": "textarea" } },
  money: { label: "Money", key: "amount", schema: { type: "number", title: "Amount", minimum: 0 },
    ui: { "ui:widget": "money" } },
  date: { label: "Date", key: "date", schema: { type: "string", format: "date", title: "Date" } },
  select: { label: "Select", key: "choice",
    schema: { type: "string", title: "Choice", enum: ["first", "second"], enumNames: ["First", "Second"] } },
  checkboxes: { label: "Checkbox list", key: "choices",
    schema: { type: "array", title: "Choices", uniqueItems: true,
      items: { type: "string", enum: ["first", "second"] } } },
  table: { label: "Table of rows", key: "rows",
    schema: { type: "array", title: "Rows", items: { type: "object", required: ["item"], properties: {
      item: { type: "string", title: "Item" }, amount: { type: "number", title: "Amount" } } } } },
};

/** {ok, message, line, column} for a JSON text, as a person reads it. */
export function jsonStatus(text) {
  if (!String(text || "").trim()) return { ok: false, message: "Empty: a form file holds one JSON object." };
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return { ok: false, message: "The file must hold one JSON object ({ ... })." };
    }
    return { ok: true, message: "Valid JSON." };
  } catch (error) {
    const where = position(text, error.message);
    const reason = error.message.replace(/^JSON\.parse: /, "").replace(/ in JSON at position \d+.*$/, "")
      .replace(/ at line \d+ column \d+.*$/, "");
    return { ok: false, line: where && where.line, column: where && where.column,
      message: where ? `Not valid JSON at line ${where.line}, column ${where.column}: ${reason}.` : `Not valid JSON: ${reason}.` };
  }
}

function position(text, message) {
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  const offset = /position (\d+)/.exec(message);
  if (!offset) return null;
  const before = text.slice(0, Number(offset[1])).split("\n");
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** Add snippet `name` to the schema (and its UI schema's order and widget); returns the new texts. */
export function insertSnippet(schemaText, uiText, name) {
  const snippet = SNIPPETS[name];
  if (!snippet) return { ok: false, message: "Unknown field kind." };
  let schema;
  let ui = null;
  try {
    schema = JSON.parse(schemaText);
    if (uiText !== null) ui = JSON.parse(uiText || "{}");
  } catch (error) {
    return { ok: false, message: "Fix the JSON first: a field can only be added to a valid form." };
  }
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) {
    return { ok: false, message: "The form must be a JSON object to add a field." };
  }
  schema.type = schema.type || "object";
  schema.properties = schema.properties || {};
  let key = snippet.key;
  for (let n = 2; key in schema.properties; n += 1) key = `${snippet.key}_${n}`;
  schema.properties[key] = structuredClone(snippet.schema);
  if (ui) {
    if (snippet.ui) ui[key] = structuredClone(snippet.ui);
    if (Array.isArray(ui["ui:order"])) {
      const rest = ui["ui:order"].indexOf("*");
      if (rest >= 0) ui["ui:order"].splice(rest, 0, key);
      else ui["ui:order"].push(key);
    }
  }
  return { ok: true, key, schema: `${JSON.stringify(schema, null, 2)}\n`,
    uischema: ui ? `${JSON.stringify(ui, null, 2)}\n` : null };
}
