"""What models made elsewhere (SpiffArena, Camunda, other modellers) bring that PMO Flow cannot run,
found at deploy time and named with its place.

* Functions only SpiffArena's server offers to scripts (``get_env()``, ``get_secret()``, ...);
  ``get_current_user()`` and ``get_url_for_task_with_bpmn_identifier()`` have an equivalent here
  (app/engine/spiff_globals.py) and are not in this list.
* Conditions written in another engine's expression language (JUEL ``${approved}``, FEEL
  ``= approved``, XPath): expressions here are Python; the equivalent is given where it is obvious.
"""

from __future__ import annotations

import ast
import re

# The script functions of SpiffArena's backend (spiffworkflow_backend/scripts), with what to do here.
_NO_EQUIVALENT = "it is not available in PMO Flow"
SPIFFARENA_ONLY_FUNCTIONS: dict[str, str] = {
    "get_process_initiator_user": "the initiator is in the task data as process_initiator",
    "get_url_for_task": "task links are built by PMO Flow's notifications",
    "get_frontend_url": "task links are built by PMO Flow's notifications",
    "get_env": "configuration is not readable from process scripts",
    "get_secret": "secrets are not readable from process scripts",
    "set_secret": "secrets are not writable from process scripts",
    "get_localtime": "use datetime.now(tz) with an explicit zone",
    "get_group_members": "group membership is managed by the lanes and roles of PMO Flow",
    "get_groups_for_user": "group membership is managed by the lanes and roles of PMO Flow",
    "get_groups_assigned_to_task": "assignment is managed by the lanes and roles of PMO Flow",
    "get_users_assigned_to_task": "assignment is managed by the lanes and roles of PMO Flow",
    "get_usernames_waiting_for_task": "assignment is managed by the lanes and roles of PMO Flow",
    "get_task_potential_owners": "assignment is managed by the lanes and roles of PMO Flow",
    "get_last_user_completing_task": "the audit trail records who completed each task",
    "get_user": _NO_EQUIVALENT,
    "get_user_by_id": _NO_EQUIVALENT,
    "get_user_properties": _NO_EQUIVALENT,
    "set_user_properties": _NO_EQUIVALENT,
    "user_has_started_instance": _NO_EQUIVALENT,
    "times_executed_by_user": _NO_EQUIVALENT,
    "add_permission": "permissions are not changed by processes",
    "add_user_to_group": "permissions are not changed by processes",
    "clear_permissions": "permissions are not changed by processes",
    "refresh_permissions": "permissions are not changed by processes",
    "get_all_permissions": "permissions are not read by processes",
    "set_feature_flags": _NO_EQUIVALENT,
    "get_current_task_info": _NO_EQUIVALENT,
    "get_current_task_data": "the task data are the script's variables",
    "get_task_data_value": "the task data are the script's variables",
    "update_task_data_with_dictionary": "assign the variables directly",
    "extract_from_task_data": "assign the variables directly",
    "get_process_info": _NO_EQUIVALENT,
    "get_toplevel_process_info": _NO_EQUIVALENT,
    "get_data_sizes": _NO_EQUIVALENT,
    "get_encoded_file_data": _NO_EQUIVALENT,
    "markdown_file_download_link": _NO_EQUIVALENT,
    "get_markdown_file_download_link": _NO_EQUIVALENT,
    "save_process_instance_metadata": _NO_EQUIVALENT,
    "delete_process_instances_with_criteria": _NO_EQUIVALENT,
    "create_unique_kkv_top_level_key": _NO_EQUIVALENT,
    "fact_service": _NO_EQUIVALENT,
    "generate_markdown_table": _NO_EQUIVALENT,
    "get_dmn": _NO_EQUIVALENT,
}


def spiffarena_calls(source: str | None, mode: str) -> list[str]:
    """Names of SpiffArena-only functions ``source`` uses without defining them itself."""
    if not source or not source.strip():
        return []
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except SyntaxError:
        return []
    defined: set[str] = set()
    used: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                defined.add(node.id)
            elif node.id in SPIFFARENA_ONLY_FUNCTIONS and node.id not in used:
                used.append(node.id)
        elif isinstance(node, ast.alias):
            defined.add(node.asname or node.name)
    return [name for name in used if name not in defined]


def spiffarena_call_message(name: str, what: str) -> str:
    return (f"{what} calls {name}(), a function only SpiffArena's server offers; "
            f"{SPIFFARENA_ONLY_FUNCTIONS[name]}")


# -- expressions of other engines ----------------------------------------------------------------

_JUEL = re.compile(r"^\s*[$#]\{(?P<body>.*)\}\s*$", re.DOTALL)
_FEEL = re.compile(r"^\s*=\s*(?P<body>[^=].*)$", re.DOTALL)
PYTHON_LANGUAGES = {"", "python", "text/x-python", "python3"}
_JUEL_WORDS = [(r"&&", " and "), (r"\|\|", " or "), (r"!(?!=)", " not "), (r"\beq\b", "=="), (r"\bne\b", "!="),
               (r"\band\b", "and"), (r"\bor\b", "or"), (r"\bnot\b", "not"), (r"\blt\b", "<"), (r"\bgt\b", ">"),
               (r"\ble\b", "<="), (r"\bge\b", ">="), (r"\btrue\b", "True"), (r"\bfalse\b", "False"),
               (r"\bnull\b", "None"), (r"\bempty\s+(\w+)", r"not \1")]
_FEEL_WORDS = [(r"(?<![<>!=])=(?!=)", "=="), (r"\btrue\b", "True"), (r"\bfalse\b", "False"),
               (r"\bnull\b", "None")]


def _translate(body: str, words: list[tuple[str, str]]) -> str | None:
    text = body
    for pattern, repl in words:
        text = re.sub(pattern, repl, text)
    text = re.sub(r"\s+", " ", text).strip()
    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        return None
    return text


def foreign_expression(text: str | None, language: str | None = None) -> str | None:
    """Why ``text`` is another engine's expression (with the Python equivalent when obvious), or None."""
    lang = (language or "").strip().lower()
    body = (text or "").strip()
    if lang and lang not in PYTHON_LANGUAGES:
        if "xpath" in lang:
            return (f"the expression language is XPath ({language}); expressions here are Python, "
                    "e.g. amount > 1000")
        return f"the expression language is {language}; expressions here are Python"
    if not body:
        return None
    juel = _JUEL.match(body)
    if juel:
        equivalent = _translate(juel.group("body"), _JUEL_WORDS)
        hint = f": write {equivalent}" if equivalent else ""
        return f"'{body}' is a JUEL expression (Camunda 7); expressions here are Python{hint}"
    feel = _FEEL.match(body)
    if feel:
        equivalent = _translate(feel.group("body"), _FEEL_WORDS)
        hint = f": write {equivalent}" if equivalent else ""
        return f"'{body}' is a FEEL expression (Camunda 8); expressions here are Python{hint}"
    if "getDataObject(" in body or body.startswith(("/", "bpmn:")):
        return f"'{body}' is an XPath expression; expressions here are Python, e.g. amount > 1000"
    return None


# -- SpiffArena's dynamic form options ------------------------------------------------------------

OPTIONS_PREFIX = "options_from_task_data_var:"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def options_variable(node: object) -> str | None:
    """NAME when ``node`` is a schema whose ``anyOf`` is SpiffArena's ``["options_from_task_data_var:NAME"]``."""
    if not isinstance(node, dict):
        return None
    choices = node.get("anyOf")
    if isinstance(choices, list) and len(choices) == 1 and isinstance(choices[0], str) \
            and choices[0].startswith(OPTIONS_PREFIX):
        return choices[0][len(OPTIONS_PREFIX):].strip()
    return None


def _option(item: object) -> tuple[object, str] | None:
    if isinstance(item, dict) and "value" in item:
        return item["value"], str(item.get("label", item["value"]))
    if isinstance(item, (str, int, float, bool)):
        return item, str(item)
    return None


def with_options(node: object, data: dict | None, *, placeholder: bool = False) -> object:
    """A copy of a form schema with each dynamic-options field given its options as ``enum`` (and
    ``enumNames``) read from task data NAME: a list of ``{"value": ..., "label": ...}`` (SpiffArena's
    shape) or of plain values. A missing or unusable variable gives no options, so any value is refused.
    ``placeholder``: no data yet (deploy-time schema check), the field is checked as a plain enum."""
    if isinstance(node, list):
        return [with_options(item, data, placeholder=placeholder) for item in node]
    if not isinstance(node, dict):
        return node
    name = options_variable(node)
    copy = {key: with_options(value, data, placeholder=placeholder) for key, value in node.items()
            if not (name is not None and key == "anyOf")}
    if name is not None:
        raw = (data or {}).get(name) if not placeholder else []
        options = [o for o in (_option(item) for item in (raw if isinstance(raw, list) else [])) if o is not None]
        copy["enum"] = [value for value, _ in options]
        copy["enumNames"] = [label for _, label in options]
    return copy


def bad_option_variables(node: object, where: str = "(root)") -> list[tuple[str, str]]:
    """(path, NAME) of dynamic-options markers whose NAME is not a variable name."""
    found: list[tuple[str, str]] = []
    if isinstance(node, list):
        for index, item in enumerate(node):
            found += bad_option_variables(item, f"{where}/{index}")
    elif isinstance(node, dict):
        name = options_variable(node)
        if name is not None and not _IDENTIFIER.match(name):
            found.append((where, name))
        for key, value in node.items():
            found += bad_option_variables(value, key if where == "(root)" else f"{where}/{key}")
    return found
