"""The package's shape: no module imports another that imports it back, even lazily."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

PACKAGE = ROOT / "j9330_rules"


def _module_name(path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, modules: set[str]) -> set[str]:
    """Every j9330_rules module imported anywhere in the file (functions included), except
    under ``if TYPE_CHECKING:``, which never runs."""
    found: set[str] = set()
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for child in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("j9330_rules"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found & modules


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: _imports(ast.parse(path.read_text()), modules) - {name} for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(name: str, stack: list[str]) -> None:
        state[name] = "open"
        stack.append(name)
        for other in sorted(graph[name]):
            if state.get(other) == "open":
                found.append([*stack[stack.index(other) :], other])
            elif other not in state:
                visit(other, stack)
        stack.pop()
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]


def test_no_import_cycles_among_the_package_modules():
    graph = import_graph()
    assert len(graph) > 40 and "j9330_rules.editor" in graph
    assert cycles(graph) == []


def test_the_folders_follow_the_pipeline():
    folders = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    assert folders == {
        "model",
        "readers",
        "facts",
        "rules",
        "engines",
        "refdata",
        "plugins",
        "writers",
        "report",
        "batch",
        "service",
    }


def test_every_public_error_lives_in_errors_under_one_base():
    import j9330_rules
    from j9330_rules import errors

    public = [getattr(j9330_rules, name) for name in j9330_rules.__all__]
    raised = [item for item in public if isinstance(item, type) and issubclass(item, BaseException)]
    assert len(raised) >= 8
    for error in raised:
        assert issubclass(error, errors.J9330Error) and error.__module__ == "j9330_rules.errors", error
    # the built-in bases callers caught before still catch them
    assert issubclass(errors.ClaimError, ValueError) and issubclass(errors.EngineUnavailable, ImportError)
