"""The house rules the code must keep (issue "House rules"), checked on the source itself.

Dependencies run one way (``plank`` knows no app; ``media`` knows neither ``torrents`` nor
``browse``), no import cycles, imports at the top unless a comment says why, no ``try: import``
of the project's own apps, settings read as ``settings.X``, and modules and classes of a size a
newcomer can read.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("plank", "media", "browse", "torrents")
MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 300
# A module or class over the limit names itself here with the reason.
LONG_BECAUSE: dict[str, str] = {}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the project module imported
    line: int
    in_function: bool
    explained: bool  # a comment says why it is not at the top


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


MODULES = _sources()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(node: ast.Import | ast.ImportFrom, module: str, path: Path) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, *([node.module] if node.module else [])])
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


_NOT_A_REASON = ("noqa", "type:", "pragma", "fmt:")


def _is_reason(comment: str) -> bool:
    text = comment.lstrip("#").strip()
    return bool(text) and not text.startswith(_NOT_A_REASON)


def _explained(lines: list[str], node: ast.stmt, function: ast.AST) -> bool:
    """A comment on the import's line, or in the run of comment and import lines just above
    it, says why it is not at the top (``# noqa`` and the like are not reasons)."""
    line = lines[node.lineno - 1]
    if "#" in line and _is_reason(line[line.index("#") :]):
        return True
    for number in range(node.lineno - 1, function.lineno, -1):
        text = lines[number - 1].strip()
        if text.startswith("#"):
            if _is_reason(text):
                return True
            continue
        if not text.startswith(("import ", "from ")) and text:
            return False
    return False


def _imports(module: str, path: Path) -> list[Import]:
    text = path.read_text()
    tree = ast.parse(text)
    lines = text.splitlines()
    owner: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    owner.setdefault(id(inner), node)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        function = owner.get(id(node))
        targets = {_resolve(t) for t in _targets(node, module, path) if t.split(".")[0] in PACKAGES}
        for target in sorted(t for t in targets if t and t != module):
            found.append(
                Import(
                    module,
                    target,
                    node.lineno,
                    in_function=function is not None,
                    explained=function is not None and _explained(lines, node, function),
                )
            )
        if function is not None and not targets:  # a library imported inside a function
            found.append(Import(module, "", node.lineno, True, _explained(lines, node, function)))
    return found


IMPORTS = [imp for module, path in MODULES.items() for imp in _imports(module, path)]


def _app(module: str) -> str:
    return module.split(".")[0]


def _cycles() -> list[list[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in IMPORTS:
        if imp.target:
            graph[imp.module].add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(MODULES):
        if node not in index:
            visit(node)
    return found


def test_the_checker_sees_the_project() -> None:
    assert "media.models" in MODULES and "plank.live.events" in MODULES
    assert any(imp.target == "media.models" for imp in IMPORTS)


def test_no_import_cycles() -> None:
    assert _cycles() == []


@pytest.mark.parametrize(
    ("app", "forbidden"),
    [("plank", {"media", "browse", "torrents"}), ("media", {"browse", "torrents"})],
)
def test_dependencies_run_one_way(app: str, forbidden: set[str]) -> None:
    wrong = [
        f"{imp.module}:{imp.line} imports {imp.target}"
        for imp in IMPORTS
        if _app(imp.module) == app and imp.target and _app(imp.target) in forbidden
    ]
    assert wrong == []


def test_imports_inside_functions_say_why() -> None:
    silent = [
        f"{imp.module}:{imp.line} {imp.target or '(a library)'}"
        for imp in IMPORTS
        if imp.in_function and not imp.explained
    ]
    assert silent == []


def _walk(path: Path) -> list[ast.AST]:
    return list(ast.walk(ast.parse(path.read_text())))


def test_no_guarded_imports_of_the_project() -> None:
    guarded = []
    for module, path in MODULES.items():
        for node in _walk(path):
            if not isinstance(node, ast.Try):
                continue
            for stmt in node.body:
                if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                    names = _targets(stmt, module, path)
                    if any(name.split(".")[0] in PACKAGES for name in names):
                        guarded.append(f"{module}:{stmt.lineno}")
    assert guarded == []


def _project_module_names(module: str, path: Path, tree: ast.AST) -> set[str]:
    """Local names bound to the project's own modules (``from torrents import downloads``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                full = f"{_targets(node, module, path)[0]}.{alias.name}"
                if full in MODULES:
                    names.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES and alias.asname:
                    names.add(alias.asname)
    return names


def test_no_guessing_at_the_project_s_own_names() -> None:
    """``getattr(some_module, "name", None)`` on a module of ours: it is always there."""
    guesses = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        ours = _project_module_names(module, path, tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"getattr", "hasattr"}
                and node.args
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id in ours
            ):
                guesses.append(f"{module}:{node.lineno}")
    assert guesses == []


def _declared_settings() -> set[str]:
    from django.conf import global_settings

    tree = ast.parse((ROOT / "plank" / "settings.py").read_text())
    names = {name for name in dir(global_settings) if name.isupper()}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def test_every_setting_read_is_declared() -> None:
    declared = _declared_settings()
    undeclared = []
    for module, path in MODULES.items():
        if module == "plank.settings":
            continue
        for node in _walk(path):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "settings"
                and node.attr.isupper()
                and node.attr not in declared
            ):
                undeclared.append(f"{module}:{node.lineno} settings.{node.attr}")
    assert undeclared == []


def test_settings_are_read_as_attributes() -> None:
    reads = []
    for module, path in MODULES.items():
        for node in _walk(path):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"getattr", "hasattr"}
                and node.args
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id in {"settings", "django_settings"}
            ):
                reads.append(f"{module}:{node.lineno}")
    assert reads == []


def test_modules_and_classes_stay_readable() -> None:
    long = []
    for module, path in MODULES.items():
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES and module not in LONG_BECAUSE:
            long.append(f"{module}: {lines} lines")
        for node in _walk(path):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                name = f"{module}.{node.name}"
                if size > MAX_CLASS_LINES and name not in LONG_BECAUSE:
                    long.append(f"{name}: {size} lines")
    assert long == []
