// window.PmoStudio: the process owner's studio in the browser (one IIFE bundle, built by `npm run build`).
import "./studio.css";
import { viewer, modeler } from "./bpmn.js";
import { dmnEditor, checkHitPolicy } from "./dmn.js";
import { mountEditor } from "./editor.js";

export { viewer, modeler, dmnEditor, checkHitPolicy, mountEditor };

// The editor page (app/studio/templates/studio/editor.html) carries <div id="studio-editor">.
if (typeof document !== "undefined") {
  const start = () => {
    const root = document.getElementById("studio-editor");
    if (root) mountEditor(root);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}
