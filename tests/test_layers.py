"""The layers point down: the library never imports the harness, and no modules import each other in a circle.

Every import counts, at module level, inside a function or for type checking only; a package
importing its own submodules does not, nor does a registry that loads a module by a name it computes.
"""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("tuning", "benchmarks")


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _imported(module: str, path: Path) -> set[str]:
    """The dotted names ``module`` imports, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            names |= {f"{base}.{alias.name}" for alias in node.names} | {base}
    return names


def import_graph() -> dict[str, set[str]]:
    """Each module of the project and the project modules it imports."""
    modules = _modules()

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in modules.items():
        own_package = path.name == "__init__.py"
        targets = {owner(name) for name in _imported(module, path)} - {None, module}
        graph[module] = {t for t in targets if not (own_package and t.startswith(f"{module}."))}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                elif target in stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_the_library_never_imports_the_harness():
    upward = [
        f"{module} -> {target}"
        for module, targets in sorted(import_graph().items())
        if module.split(".")[0] == "tuning"
        for target in sorted(targets)
        if target.split(".")[0] == "benchmarks"
    ]
    assert upward == []


def test_no_modules_import_each_other_in_a_circle():
    assert circles(import_graph()) == []


def test_the_rule_sees_a_circle_and_an_upward_import_where_there_is_one(tmp_path):
    """The checks themselves: a circle in a made-up graph, and an import inside a function."""
    graph = {"tuning.a": {"tuning.b"}, "tuning.b": {"tuning.a", "benchmarks.c"}, "benchmarks.c": set()}
    assert circles(graph) == [["tuning.a", "tuning.b"]]
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from tuning.a import x\n")
    assert "tuning.a" in _imported("tuning.probe", probe)
