"""The shape of the tree: one home per domain, imports that only go down, SpiffWorkflow only in
the engine. These read the source (no app is created), so they fail on the commit that breaks
the rule, naming the file and line."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from app import DOMAINS

APP = Path(__file__).resolve().parents[1] / "app"

# Lowest first. A package may import from itself and from the packages before it, never after:
# shared plumbing (core, the engine, the API and web scaffolding), then the domains in order.
LAYERS = ("core", "engine", "api", "web", *DOMAINS)
# Modules above every package: the app factory, the command line and the Celery app wire them.
TOP = {"app", "app.cli", "app.worker"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in APP.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(APP.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, local imports included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            module = path.relative_to(APP.parent).with_suffix("").parts[:-node.level]
            found.append((node.lineno, ".".join((*module, node.module or "")).rstrip(".")))
    return found


def test_every_domain_named_in_the_factory_is_a_package_of_its_own():
    for domain in DOMAINS:
        assert (APP / domain / "__init__.py").is_file(), f"app/{domain}/ is missing"


def test_imports_only_go_down_the_layers():
    wrong = []
    for module, path in _modules().items():
        source = _package(module)
        if module in TOP or source is None:
            continue
        for line, imported in _imports(path):
            target = _package(imported)
            if target and LAYERS.index(target) > LAYERS.index(source):
                wrong.append(f"{path.relative_to(APP.parent)}:{line} ({source}) imports {imported} ({target})")
    assert not wrong, "imports that go up the layers:\n" + "\n".join(sorted(set(wrong)))


def test_no_import_cycles_between_packages():
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in _modules().items():
        source = _package(module)
        for _, imported in _imports(path):
            target = _package(imported)
            if source and target and target != source and module not in TOP:
                graph[source].add(target)

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*trail, start]
                if nxt not in trail:
                    stack.append((nxt, [*trail, nxt]))
        return None

    cycles = [" -> ".join(c) for p in list(graph) if (c := cycle_from(p))]
    assert not cycles, "package import cycles: " + "; ".join(cycles)


def test_only_the_engine_imports_spiffworkflow():
    outside = [f"{path.relative_to(APP.parent)}:{line}"
               for module, path in _modules().items() if _package(module) != "engine"
               for line, imported in _imports(path) if imported.split(".")[0] == "SpiffWorkflow"]
    assert not outside, "SpiffWorkflow imported outside app/engine: " + ", ".join(outside)


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_domain_has_the_same_inner_shape(domain: str):
    """Models, state changes, read-only views, schemas and routes, each in the module named for it."""
    expected = {"api.py", "schemas.py"}
    # ops only reads the other domains' tables; portfolio, read-only otherwise, keeps its rollup tables.
    expected |= {"models.py"} if domain != "ops" else set()
    present = {p.name for p in (APP / domain).iterdir()}
    missing = expected - present
    assert not missing, f"app/{domain}/ lacks {', '.join(sorted(missing))}"
    assert present & {"operations.py", "commands.py"}, f"app/{domain}/ has no operations module"
    assert "queries.py" in present or domain in ("ops",), f"app/{domain}/ has no queries module"
