"""The package graph keeps its agreed direction (read from the source with `ast`, no import
runs). Breaking a rule fails here, naming the module and the import.

- The core (database, unit of work, event bus, config, crypto, the Twilio REST client…)
  and the HTTP kit under `web/` import no feature.
- The wiring (`app`, `jobs`, `cli`) imports everything; nothing imports it.
- `whatsapp/` is the transport: it imports no feature, so conversations, documents and
  the inbox hang off it and never the other way round.
- Features import each other one way only: the graph between them has no cycle.
- A page (`views`) never imports a JSON route module (`api`), nor the reverse.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from pathlib import Path

import clientcompass

SOURCE = Path(clientcompass.__file__).parent
FEATURES = {
    "accounts",
    "audit",
    "business",
    "contacts",
    "conversations",
    "documents",
    "flows",
    "inbox",
    "integrations",
    "leads",
    "lifecycle",
    "notifications",
    "sandbox",
    "team",
    "whatsapp",
}
WIRING = {"app", "jobs", "cli", "__main__"}
# Outside every rule: the Twilio stand-in is a test double shipped for the sandbox.
IGNORED = {"migrations", "twilio_standin"}


def imports() -> list[tuple[str, str, int, str]]:
    """(importing module, imported module, line, the package the importer is in)."""
    found = []
    for path in SOURCE.rglob("*.py"):
        relative = path.relative_to(SOURCE).with_suffix("")
        if relative.parts[0] in IGNORED:
            continue
        module = ".".join(relative.parts)
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "clientcompass":
                    targets = [alias.name for alias in node.names]
                elif node.module.startswith("clientcompass."):
                    base = node.module.removeprefix("clientcompass.")
                    targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [
                    a.name.removeprefix("clientcompass.")
                    for a in node.names
                    if a.name.startswith("clientcompass.")
                ]
            for target in targets:
                found.append((module, target, node.lineno, relative.parts[0]))
    return found


def top(module: str) -> str:
    return module.split(".")[0]


def test_the_core_and_the_http_kit_import_no_feature_and_no_wiring() -> None:
    wrong = [
        f"{module}:{line} imports {target}"
        for module, target, line, package in imports()
        if package not in FEATURES | WIRING and top(target) in FEATURES | WIRING
    ]
    assert wrong == []


def test_nothing_imports_the_wiring() -> None:
    wrong = [
        f"{module}:{line} imports {target}"
        for module, target, line, package in imports()
        if package not in WIRING and top(target) in WIRING
    ]
    assert wrong == []


def test_the_whatsapp_transport_imports_no_feature() -> None:
    wrong = [
        f"{module}:{line} imports {target}"
        for module, target, line, package in imports()
        if package == "whatsapp" and top(target) in FEATURES - {"whatsapp"}
    ]
    assert wrong == []


def test_features_import_each_other_one_way_only() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for _module, target, _line, package in imports():
        if package in FEATURES and top(target) in FEATURES and top(target) != package:
            graph[package].add(top(target))
    cycles = [
        f"{a} ⇄ {b}"
        for a, b in itertools.combinations(sorted(FEATURES), 2)
        if reaches(graph, a, b) and reaches(graph, b, a)
    ]
    assert cycles == []


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for following in graph[node] - seen:
            if following == goal:
                return True
            seen.add(following)
            todo.append(following)
    return False


def is_api(module: str) -> bool:
    name = module.rsplit(".", 1)[-1]
    return name == "api" or name.endswith("_api")


def is_view(module: str) -> bool:
    name = module.rsplit(".", 1)[-1]
    return name == "views" or name.startswith("views_") or name.endswith("_views")


def test_pages_and_json_routes_share_through_a_third_module_never_each_other() -> None:
    wrong = [
        f"{module}:{line} imports {target}"
        for module, target, line, _package in imports()
        if (is_view(module) and is_api(target)) or (is_api(module) and is_view(target))
    ]
    assert wrong == []


def test_the_rules_can_fail() -> None:
    """The checks see real imports: the features are there and import the core."""
    seen = imports()
    assert {package for _, _, _, package in seen} >= FEATURES
    assert any(m.startswith("conversations") and t.startswith("whatsapp") for m, t, _, _ in seen)
    assert reaches({"a": {"b"}, "b": {"a"}}, "a", "b") and not reaches({"a": set()}, "a", "b")
