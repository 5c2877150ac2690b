"""Process definitions: deploying bundles of BPMN, DMN and form files as numbered versions, finding
a version's spec, and the forms (JSON Schema + UI schema) a version's user tasks use."""
