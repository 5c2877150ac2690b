// window.PmoStudio: the process owner's studio in the browser (one IIFE bundle, built by `npm run build`).
import "./studio.css";
import { viewer, modeler } from "./bpmn.js";
import { dmnEditor, checkHitPolicy } from "./dmn.js";

export { viewer, modeler, dmnEditor, checkHitPolicy };

