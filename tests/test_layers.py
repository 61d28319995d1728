"""The apps stand on each other in one direction only (README, "Layout").

Every import of every module counts, lazy and ``TYPE_CHECKING`` ones included: a lazy import
upward is still a dependency upward.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("gamification", "scoring", "strategies", "observability")

#: The project wiring: it may import every app, and no app imports it.
WIRING = {
    "gamification",  # the package's __init__ loads the Celery app
    "gamification.settings",
    "gamification.urls",
    "gamification.celery",
    "gamification.wsgi",
    "gamification.asgi",
    "gamification.management.commands.seed_demo",
}

#: Bottom to top; a module may import its own layer and the layers below it.
LAYERS = ("engine", "core", "scoring", "strategies", "observability")

#: What strategies may use of scoring: the engine, its types, errors and hooks, not the
#: scoring service or its API.
SCORING_FOR_STRATEGIES = (
    "scoring.dsl",
    "scoring.builtins",
    "scoring.strategy_types",
    "scoring.engine",
    "scoring.context",
    "scoring.errors",
    "scoring.hooks",
)

#: Third-party packages the engine may not import: it is plain Python.
FRAMEWORKS = ("django", "rest_framework", "celery", "kombu", "redis", "prometheus_client")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # ``from a import b`` names module a.b when there is one, else a name in a.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def _modules() -> dict[str, set[str]]:
    modules = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            module = _module_name(path)
            modules[module] = _imports(path, module)
    return modules


MODULES = _modules()


def _project_target(name: str) -> str | None:
    """The longest project module ``name`` refers to (``a.b.c`` may be the name c in a.b)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _layer(module: str) -> str:
    if _within(module, "scoring.dsl") or _within(module, "scoring.builtins"):
        return "engine"
    app = module.split(".")[0]
    return "core" if app == "gamification" else app


def _edges() -> list[tuple[str, str]]:
    edges = []
    for module, names in MODULES.items():
        for name in names:
            target = _project_target(name)
            if target is not None and target != module:
                edges.append((module, target))
    return sorted(set(edges))


EDGES = _edges()


def test_the_import_scan_sees_the_whole_project():
    assert len(MODULES) > 80
    assert ("scoring.services", "scoring.engine") in EDGES
    assert ("strategies.apps", "scoring.hooks") in EDGES


def test_no_module_imports_a_higher_layer():
    upward = [
        f"{source} ({_layer(source)}) imports {target} ({_layer(target)})"
        for source, target in EDGES
        if source not in WIRING
        and target not in WIRING
        and LAYERS.index(_layer(target)) > LAYERS.index(_layer(source))
    ]
    assert upward == []


def test_nothing_but_the_wiring_imports_the_wiring():
    offenders = [
        f"{source} imports {target}"
        for source, target in EDGES
        if target in WIRING and source not in WIRING
    ]
    assert offenders == []


def test_strategies_use_the_engine_of_scoring_not_its_service():
    offenders = [
        f"{source} imports {target}"
        for source, target in EDGES
        if _layer(source) == "strategies"
        and target.startswith("scoring.")
        and not any(_within(target, allowed) for allowed in SCORING_FOR_STRATEGIES)
    ]
    assert offenders == []


def test_the_engine_is_plain_python():
    offenders = sorted(
        f"{module} imports {name}"
        for module, names in MODULES.items()
        if _layer(module) == "engine"
        for name in names
        if name.split(".")[0] in FRAMEWORKS
        or (
            name.split(".")[0] in APPS
            and _project_target(name) is not None
            and _layer(_project_target(name)) != "engine"
        )
    )
    assert offenders == []


def test_apps_import_each_other_without_cycles():
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in EDGES:
        if source in WIRING or target in WIRING:
            continue
        source_app, target_app = source.split(".")[0], target.split(".")[0]
        if source_app != target_app:
            graph[source_app].add(target_app)
    cycles = [
        (a, b)
        for a, b in itertools.permutations(APPS, 2)
        if _reaches(graph, a, b) and _reaches(graph, b, a)
    ]
    assert cycles == [], dict(graph)


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for nxt in graph[node]:
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("scoring.services", "strategies.selectors", False),
        ("gamification.models", "scoring.engine", False),
        ("observability.observer", "scoring.strategy_types", True),
        ("strategies.models", "gamification.models", True),
        ("scoring.dsl.run", "gamification.models", False),
    ],
)
def test_the_layer_rule_reads_as_the_readme_says(source, target, allowed):
    assert (LAYERS.index(_layer(target)) <= LAYERS.index(_layer(source))) is allowed
