// The editor page's glue: <div id="studio-editor" data-draft-url data-validate-url data-preview-url>
// with <script type="application/json" id="studio-context">. Tabs over the draft's files, BPMN in
// the modeler, DMN in the decision table editor, forms as two JSON documents with a server preview;
// saves with the revision they started from (a 409 is shown, never overwritten); server checks and
// bpmnlint drawn on the elements they concern.
import { modeler } from "./bpmn.js";
import { dmnEditor } from "./dmn.js";
import { SNIPPETS, insertSnippet, jsonStatus } from "./forms.js";

const KIND_LABELS = { bpmn: "process", dmn: "decision", schema: "form", uischema: "form layout",
  scenario: "scenarios", model: "model" };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** The page's CSRF token: <meta name="csrf-token">, else the one every signed-in page carries in
 * its sign-out form (Flask-WTF accepts it as X-CSRFToken). */
function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.getAttribute("content")) return meta.getAttribute("content");
  const field = document.querySelector('input[name="csrf_token"]');
  return field ? field.value : "";
}

async function request(method, url, payload) {
  const headers = { Accept: "application/json" };
  if (payload !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  const response = await fetch(url, { method, headers, credentials: "same-origin",
    body: payload === undefined ? undefined : JSON.stringify(payload) });
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = null;
  }
  return { status: response.status, ok: response.ok, data };
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** The schema/UI schema pair a form file belongs to: "x-schema.json" <-> "x-uischema.json". */
export function formPair(name) {
  if (/-uischema\.json$/i.test(name)) return { schema: name.replace(/-uischema\.json$/i, "-schema.json"), uischema: name };
  if (/-schema\.json$/i.test(name)) return { schema: name, uischema: name.replace(/-schema\.json$/i, "-uischema.json") };
  return { schema: name, uischema: null };
}

export function mountEditor(root) {
  const contextNode = document.getElementById("studio-context");
  const context = contextNode ? JSON.parse(contextNode.textContent || "{}") : {};
  const urls = { draft: root.dataset.draftUrl, validate: root.dataset.validateUrl, preview: root.dataset.previewUrl,
    scenarios: root.dataset.scenariosUrl };
  const readOnly = root.dataset.readOnly === "true";
  const files = new Map((context.files || []).map((f) => [f.name, { ...f, content: null, saved: null, editor: null }]));
  let problems = [];
  let lintFindings = [];
  let active = null;
  let opening = Promise.resolve();

  const status = el("span", { class: "studio-status", role: "status", "data-testid": "studio-status" });
  const saveButton = el("button", { type: "button", class: "studio-button", "data-testid": "studio-save", text: "Save" });
  const validateButton = el("button", { type: "button", class: "studio-button is-quiet", "data-testid": "studio-validate",
    text: "Check the draft" });
  const scenariosButton = urls.scenarios ? el("button", { type: "button", class: "studio-button is-quiet",
    "data-testid": "studio-run-scenarios", text: "Run the scenarios" }) : null;
  const scenarioList = el("ul", { class: "studio-problems studio-scenarios", "aria-label": "Scenario results",
    "data-testid": "studio-scenarios", hidden: true });
  const tabs = el("div", { class: "studio-files", role: "tablist", "aria-label": "Files of this draft" });
  const message = el("div", { "aria-live": "polite", "data-testid": "studio-message" });
  const workspace = el("div", { class: "studio-workspace", role: "tabpanel", "data-testid": "studio-workspace" });
  const problemList = el("ul", { class: "studio-problems", "aria-label": "Problems", "data-testid": "studio-problems", hidden: true });
  root.classList.add("studio-editor");
  if (readOnly) saveButton.hidden = true;
  root.replaceChildren(el("div", { class: "studio-toolbar" }, saveButton, validateButton, scenariosButton, status), tabs,
    message, workspace, problemList, scenarioList);

  // --- state of the files ------------------------------------------------------------------
  const isDirty = (file) => file.dirty === true;
  const anyDirty = () => [...files.values()].some(isDirty);

  function refreshStatus() {
    const dirty = [...files.values()].filter(isDirty).map((f) => f.name);
    if (readOnly) {
      status.textContent = "You can look and try changes here; only process owners save them.";
      return;
    }
    status.textContent = dirty.length ? `Unsaved changes: ${dirty.join(", ")}` : "All changes saved";
    status.classList.toggle("is-dirty", dirty.length > 0);
    saveButton.disabled = dirty.length === 0;
    for (const button of tabs.querySelectorAll("button")) {
      button.classList.toggle("studio-file-dirty", isDirty(files.get(button.dataset.file)));
    }
  }

  function say(text, kind = "") {
    message.replaceChildren();
    if (!text) return;
    message.append(el("p", { class: `studio-message ${kind}`, role: kind === "is-error" ? "alert" : "status", text }));
  }

  window.addEventListener("beforeunload", (event) => {
    if (readOnly || !anyDirty()) return;
    event.preventDefault();
    event.returnValue = "";
  });

  /** A file's text and revision: GET <draft-url>/files/<name> answers the raw text, its revision
   * in X-Revision. Loaded once, when its tab is first opened. */
  async function load(file) {
    if (!file || file.content !== null) return;
    const response = await fetch(`${urls.draft}/files/${encodeURIComponent(file.name)}`,
      { credentials: "same-origin", headers: { Accept: "application/xml, application/json, text/plain" } });
    if (!response.ok) throw new Error(`${file.name} could not be loaded (the server answered ${response.status}).`);
    file.content = await response.text();
    file.saved = file.content;
    const revision = Number(response.headers.get("X-Revision"));
    if (Number.isInteger(revision) && revision > 0) file.revision = revision;
  }

  // --- the tabs ----------------------------------------------------------------------------
  function tabFiles() {
    // A form's UI schema opens with its schema (one tab per form).
    return [...files.values()].filter((f) => !(f.kind === "uischema" && files.has(formPair(f.name).schema)));
  }

  function renderTabs() {
    tabs.replaceChildren(...tabFiles().map((file) => el("button", {
      type: "button", role: "tab", "data-file": file.name, "aria-selected": String(file.name === active),
      onclick: () => open(file.name),
    }, file.name, " ", el("span", { class: "studio-kind", text: `(${KIND_LABELS[file.kind] || file.kind})` }))));
    refreshStatus();
  }

  function open(name) {
    opening = opening.then(() => show(name)).catch((error) => say(error.message, "is-error"));
    return opening;
  }

  async function show(name) {
    const file = files.get(name);
    if (!file) return;
    await captureActive();
    const pair = formPair(name);
    await load(file);
    if (file.kind === "schema" || file.kind === "uischema") {
      await load(files.get(pair.schema));
      if (pair.uischema) await load(files.get(pair.uischema));
    }
    active = name;
    renderTabs();
    say("");
    workspace.replaceChildren();
    if (file.kind === "bpmn") await showBpmn(file);
    else if (file.kind === "dmn") await showDmn(file);
    else if (file.kind === "schema" || file.kind === "uischema") showForm(file);
    else showText(file);
    drawProblems();
  }

  /** Before switching tabs, keep the open editor's text (the diagram editors are rebuilt on return). */
  async function captureActive() {
    const file = active && files.get(active);
    if (file && file.editor && file.editor.getXML) {
      file.content = await file.editor.getXML();
      file.editor.destroy();
      file.editor = null;
    }
  }

  async function showBpmn(file) {
    const canvas = el("div", { class: "studio-canvas", "data-testid": "studio-canvas" });
    const panel = el("div", { class: "studio-panel", "data-testid": "studio-panel" });
    workspace.append(canvas, panel);
    let editor;
    try {
      editor = await modeler(canvas, panel, file.content, context);
    } catch (error) {
      // Still editable as text: a diagram from another modeller without layout, or one that does not parse.
      workspace.replaceChildren();
      showText(file, error.code === "no-layout" ? `${error.message} Its XML can still be edited here.`
        : `This diagram could not be drawn (${error.message}); its XML can still be edited here.`);
      return;
    }
    file.editor = editor;
    let lintTimer = null;
    editor.onChange(() => {
      file.dirty = true;
      refreshStatus();
      clearTimeout(lintTimer);
      lintTimer = setTimeout(() => relint(file), 300);
    });
    const dropped = editor.importWarnings.map((w) => /unparsable content <([^>]+)>/.exec(w)).filter(Boolean).map((m) => m[1]);
    if (dropped.length) {
      say(`This diagram holds ${[...new Set(dropped)].join(", ")}, which the editor does not know: saving it from here`
        + " would leave them out. Edit its XML elsewhere, or save only if you mean to drop them.", "is-conflict");
    } else if (editor.importWarnings.length) {
      say(`Opened with warnings: ${editor.importWarnings.join("; ")}`);
    }
    if (shownPath) await showPath(shownPath);
    await relint(file);
  }

  async function relint(file) {
    const editor = file.editor;
    if (!editor || !editor.lint) return;
    const found = await editor.lint();
    if (file.editor !== editor) return;  // the tab was left meanwhile: its editor is gone
    lintFindings = found.map((p) => ({ ...p, file: file.name }));
    drawProblems();
  }

  async function showDmn(file) {
    const summary = el("ul", { class: "studio-policies", "aria-label": "Hit policies", "data-testid": "studio-hit-policies" });
    const container = el("div", { class: "studio-dmn" });
    workspace.append(el("div", { class: "studio-single" }, summary, container));
    let editor;
    try {
      editor = await dmnEditor(container, file.content);
    } catch (error) {
      workspace.replaceChildren();
      showText(file, `This decision file could not be opened (${error.message}); its XML can still be edited here.`);
      return;
    }
    file.editor = editor;
    const describe = () => summary.replaceChildren(...editor.hitPolicies().map((table) => el("li", {},
      el("strong", { text: table.name }), " ", el("span", { class: "studio-policy", text: table.hitPolicy }),
      ...table.problems.map((p) => el("span", { class: `studio-policy-note is-${p.severity}`, text: p.message })))));
    describe();
    editor.onChange(() => {
      file.dirty = true;
      refreshStatus();
      describe();
    });
  }

  function showText(file, why = "") {
    const area = el("textarea", { id: "studio-text", spellcheck: "false", "aria-describedby": "studio-text-status" });
    area.value = file.content || "";
    const note = el("p", { id: "studio-text-status", class: "studio-json-status", "aria-live": "polite" });
    const isJson = /\.json$/i.test(file.name);
    const check = () => {
      if (!isJson) return;
      const result = jsonStatus(area.value);
      note.textContent = result.message;
      note.classList.toggle("is-error", !result.ok);
      area.setAttribute("aria-invalid", String(!result.ok));
    };
    area.addEventListener("input", () => {
      file.content = area.value;
      file.dirty = file.content !== file.saved;
      refreshStatus();
      check();
    });
    check();
    workspace.append(el("div", { class: "studio-single studio-textfile" },
      why ? el("p", { class: "studio-message is-error", "data-testid": "studio-text-reason", text: why }) : null,
      el("label", { for: "studio-text", text: file.name }), area, note));
  }

  // --- the form editor ---------------------------------------------------------------------
  function showForm(file) {
    const pair = formPair(file.name);
    const schemaFile = files.get(pair.schema);
    const uiFile = pair.uischema ? files.get(pair.uischema) : null;
    const preview = el("div", { class: "studio-preview", "aria-live": "polite", "data-testid": "studio-preview" });
    const box = el("div", { class: "studio-form" });
    const areas = {};
    const sides = [["schema", schemaFile, "Fields (JSON Schema)"], ["uischema", uiFile, "Layout (UI schema)"]];
    for (const [side, target, label] of sides) {
      const id = `studio-${side}`;
      const area = el("textarea", { id, spellcheck: "false", "aria-describedby": `${id}-status`, "data-testid": id,
        disabled: target ? undefined : true });
      area.value = target ? target.content || "" : "";
      const note = el("p", { id: `${id}-status`, class: "studio-json-status", "aria-live": "polite",
        text: target ? "" : "This form has no layout file; add one to the draft to order its fields." });
      areas[side] = { area, note, target };
      box.append(el("div", {}, el("label", { for: id, text: `${label}: ${target ? target.name : "none"}` }), area, note));
    }
    const check = (side) => {
      const { area, note, target } = areas[side];
      if (!target) return true;
      const result = jsonStatus(area.value);
      note.textContent = result.message;
      note.classList.toggle("is-error", !result.ok);
      area.setAttribute("aria-invalid", String(!result.ok));
      return result.ok;
    };
    let timer = null;
    const schedulePreview = () => {
      clearTimeout(timer);
      timer = setTimeout(() => renderPreview(areas, preview), 350);
    };
    for (const side of ["schema", "uischema"]) {
      const { area, target } = areas[side];
      if (!target) continue;
      area.addEventListener("input", () => {
        target.content = area.value;
        target.dirty = target.content !== target.saved;
        refreshStatus();
        if (check(side)) schedulePreview();
      });
      check(side);
    }
    const snippets = el("div", { class: "studio-snippets", role: "group", "aria-label": "Add a field" },
      el("span", { text: "Add a field:" }),
      ...Object.entries(SNIPPETS).map(([key, snippet]) => el("button", {
        type: "button", class: "studio-button is-quiet", "data-snippet": key, text: snippet.label,
        onclick: () => {
          const result = insertSnippet(areas.schema.area.value, areas.uischema.target ? areas.uischema.area.value : null, key);
          if (!result.ok) {
            say(result.message, "is-error");
            return;
          }
          say(`Added the field "${result.key}": rename it and set its title.`);
          for (const side of ["schema", "uischema"]) {
            const text = side === "schema" ? result.schema : result.uischema;
            if (text === null || !areas[side].target) continue;
            areas[side].area.value = text;
            areas[side].area.dispatchEvent(new Event("input"));
          }
        },
      })));
    // Sample data, checked by the server exactly as a submitted task would be (never saved).
    const sample = el("textarea", { id: "studio-sample-data", spellcheck: "false", rows: "4",
      "data-testid": "studio-sample-data", "aria-describedby": "studio-sample-data-status",
      placeholder: '{"field": "value"}' });
    const sampleNote = el("p", { id: "studio-sample-data-status", class: "studio-json-status", "aria-live": "polite",
      text: "Leave empty to see the form as it opens." });
    sample.addEventListener("input", () => {
      const result = sample.value.trim() ? jsonStatus(sample.value) : { ok: true, message: "" };
      sampleNote.textContent = result.message || "Leave empty to see the form as it opens.";
      sampleNote.classList.toggle("is-error", !result.ok);
      if (result.ok) schedulePreview();
    });
    areas.sample = { area: sample };
    box.append(snippets, el("div", { class: "studio-sample" },
      el("label", { for: "studio-sample-data", text: "Sample data, validated as a submission" }), sample, sampleNote),
    el("div", { class: "studio-preview-wrap" },
      el("h2", { text: "Preview: what the person doing the task will see" }), preview));
    workspace.append(el("div", { class: "studio-single" }, box));
    renderPreview(areas, preview);
  }

  async function renderPreview(areas, preview) {
    if (!urls.preview) return;
    const schema = areas.schema.area.value;
    const uischema = areas.uischema.target ? areas.uischema.area.value : "{}";
    if (!jsonStatus(schema).ok || !jsonStatus(uischema).ok) return;
    let sample = null;
    const sampleText = areas.sample ? areas.sample.area.value.trim() : "";
    if (sampleText) {
      try {
        sample = JSON.parse(sampleText);
      } catch (error) {
        return;  // its own note says where the JSON breaks
      }
      if (sample === null || typeof sample !== "object" || Array.isArray(sample)) return;
    }
    const { ok, data } = await request("POST", urls.preview, { schema, uischema, data: sample });
    if (!ok || !data) {
      preview.replaceChildren(el("p", { class: "studio-message is-error",
        text: (data && (data.detail || data.title)) || "The preview could not be drawn." }));
      return;
    }
    const body = el("div", { class: "studio-preview-form" });
    // The server renders the form with the task page's own renderer (escaped Jinja output).
    body.innerHTML = data.html;
    const errors = Object.entries(data.errors || {});
    preview.replaceChildren(body, ...(errors.length ? [el("ul", { class: "studio-preview-errors" },
      ...errors.map(([field, list]) => el("li", {
        text: `${(data.labels || {})[field] || field}: ${list.join("; ")}` })))] : []));
  }

  // --- saving ------------------------------------------------------------------------------
  // The properties panel applies typing after a 300 ms pause (or when the field loses focus, as
  // when Save is clicked): mark the file unsaved at the first keystroke, so Save is there at once.
  root.addEventListener("input", (event) => {
    if (!event.target.closest || !event.target.closest(".bio-properties-panel")) return;
    const file = active && files.get(active);
    if (file && !file.dirty) {
      file.dirty = true;
      refreshStatus();
    }
  }, true);  // capture: the panel's fields stop some events from bubbling

  async function save() {
    if (readOnly) return false;
    await opening;
    const open = active && files.get(active);
    if (open && open.editor && open.dirty) open.content = await open.editor.getXML();
    const conflicts = [];
    let saved = 0;
    for (const file of [...files.values()].filter(isDirty)) {
      const { status: code, ok, data } = await request("PUT", `${urls.draft}/files/${encodeURIComponent(file.name)}`,
        { content: file.content, revision: file.revision || 0 });
      if (ok) {
        file.revision = data.revision;
        file.saved = file.content;
        file.dirty = false;
        saved += 1;
      } else if (code === 409) {
        const who = data && data.saved_by ? `${data.saved_by} saved ${file.name}` : `${file.name} was changed`;
        conflicts.push(`Not saved: ${who}${data && data.saved_at ? ` on ${when(data.saved_at)}` : ""} after you opened it.`
          + " Nothing was overwritten and your changes are still here: copy them, reload the page to see the"
          + " other version, and apply them again.");
      } else {
        conflicts.push(`${file.name} was not saved: ${(data && (data.detail || data.title)) || `the server answered ${code}`}.`);
      }
    }
    refreshStatus();
    if (conflicts.length) say(conflicts.join(" "), "is-conflict");
    else say(saved ? `Saved ${saved} file${saved > 1 ? "s" : ""}.` : "Nothing to save.");
    return conflicts.length === 0;
  }

  // --- problems ----------------------------------------------------------------------------
  function drawProblems() {
    const file = active && files.get(active);
    const all = [...problems, ...lintFindings.filter((p) => file && p.file === file.name)];
    if (file && file.editor && file.editor.showProblems) {
      file.editor.showProblems(all.filter((p) => p.file === file.name));
    }
    problemList.hidden = all.length === 0;
    const describe = (p) => (file && file.editor && file.editor.describe && p.file === file.name
      ? file.editor.describe(p.element) : "");
    problemList.replaceChildren(...all.map((p) => {
      const what = describe(p);
      const where = [what ? `on the ${what}` : "", p.file || "", p.line ? `line ${p.line}` : ""].filter(Boolean);
      return el("li", {}, el("button", { type: "button", onclick: () => goTo(p) },
        el("span", { class: `studio-severity is-${p.severity}`, text: p.severity === "error" ? "Error" : "Warning" }),
        " ", p.message, " ", el("span", { class: "studio-where", text: where.join(", ") })));
    }));
  }

  async function goTo(problem) {
    if (problem.file && files.has(problem.file) && problem.file !== active) await open(problem.file);
    const file = files.get(active);
    if (problem.element && file && file.editor && file.editor.select) file.editor.select(problem.element);
  }

  async function validate() {
    if (!urls.validate) return;
    if (!readOnly && anyDirty() && !(await save())) return;
    const { ok, data } = await request("POST", urls.validate, {});
    if (!ok || !data) {
      say("The checks could not run. Try again in a moment.", "is-error");
      return;
    }
    problems = (data.problems || []).map((p) => ({ ...p, severity: p.severity === "warning" ? "warning" : "error" }));
    const errors = problems.filter((p) => p.severity === "error").length;
    say(errors ? `${errors} error${errors > 1 ? "s" : ""} must be fixed before publishing.`
      : `No errors${problems.length ? `; ${problems.length} warning${problems.length > 1 ? "s" : ""}` : ""}.`,
    errors ? "is-error" : "");
    drawProblems();
  }

  // --- scenarios: run against the saved draft; a result's path is drawn on its diagram --------
  let shownPath = null;

  async function runScenarios() {
    if (anyDirty() && !readOnly && !(await save())) return;
    scenariosButton.disabled = true;
    say("Running the scenarios with the engine…");
    try {
      const { ok, data } = await request("POST", urls.scenarios, {});
      if (!ok || !data) {
        say((data && data.detail) || "The scenarios could not run.", "is-error");
        return;
      }
      const results = data.results || [];
      const failed = results.filter((r) => !r.passed).length;
      say(!results.length ? "This draft has no scenarios yet: add a test_<process>.json file."
        : failed ? `${failed} of ${results.length} scenario${results.length > 1 ? "s" : ""} failed.`
          : `All ${results.length} scenario${results.length > 1 ? "s" : ""} passed.`, failed ? "is-error" : "");
      scenarioList.hidden = results.length === 0;
      scenarioList.replaceChildren(...results.map((result) => el("li", {}, el("button", {
        type: "button", "data-scenario": result.scenario, onclick: () => showPath(result),
      }, el("span", { class: `studio-severity ${result.passed ? "is-passed" : "is-error"}`,
        text: result.passed ? "Passed" : "Failed" }), " ", inWords(result.scenario), " ",
      el("span", { class: "studio-where", text: inWords(result.process) }),
      ...(result.failures || []).map((f) => el("span", { class: "studio-failure", text: f }))))));
      if (results.length) await showPath(results.find((r) => !r.passed) || results[0]);
    } finally {
      scenariosButton.disabled = false;
    }
  }

  /** A scenario's or a process's key as a person reads it: "large_change_to_ccb" -> "Large change to ccb". */
  function inWords(key) {
    const text = String(key || "").replace(/_/g, " ").trim();
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  /** Draw the elements a scenario ran through (its path) on the open diagram of that process. */
  async function showPath(result) {
    shownPath = result;
    const file = active && files.get(active);
    if (!file || !file.editor || !file.editor.mark) return;
    const ids = new Set(result.path || []);
    const marks = {};
    for (const id of ids) marks[id] = "path";
    file.editor.mark(marks);
  }

  if (scenariosButton) scenariosButton.addEventListener("click", () => runScenarios());
  saveButton.addEventListener("click", () => save());
  validateButton.addEventListener("click", () => validate());

  const first = tabFiles().find((f) => f.kind === "bpmn") || tabFiles()[0];
  renderTabs();
  const ready = first ? open(first.name) : Promise.resolve();
  root.pmoStudio = { ready, open, save, validate, runScenarios, files };
  return root.pmoStudio;
}
