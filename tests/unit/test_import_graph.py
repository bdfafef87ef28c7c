"""The layers hold: orchestration -> assets -> monitoring -> models -> connectors, never back up, no cycles.

Walks the source (ast, nothing imported), so a lazy import inside a function counts as an edge too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Higher imports lower, never the reverse. monitoring reads models (drift of features, cost contract).
LAYERS = {"connectors": 0, "models": 1, "monitoring": 2, "assets": 3, "orchestration": 4}
ASSET_DECORATORS = ("asset", "multi_asset", "asset_check", "multi_asset_check", "dbt_assets")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def our_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in LAYERS for p in (ROOT / pkg).rglob("*.py")}


def resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of `name` that is one of our modules (`a.b.c` -> `a.b` when c is a name)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(path: Path, modules: dict[str, Path], *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # `if TYPE_CHECKING:` blocks are not executed
        nodes = [n for n in nodes if isinstance(n, (ast.Import, ast.ImportFrom))]
    out = set()
    pkg = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        out |= {m for m in (resolve(n, modules) for n in names) if m}
    return out - {module_name(path)}


def layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def test_no_module_imports_a_higher_layer():
    modules = our_modules()
    upward = sorted(
        f"{m} -> {dep}"
        for m, path in modules.items()
        for dep in imports(path, modules, top_level_only=False)
        if layer(dep) > layer(m)
    )
    assert upward == []


def test_the_import_graph_has_no_cycle():
    modules = our_modules()
    graph = {m: imports(p, modules, top_level_only=True) for m, p in modules.items()}
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for dep in sorted(graph[m]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*stack[stack.index(dep):], dep]))
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def defines_assets(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in node.decorator_list:
                target = d.func if isinstance(d, ast.Call) else d
                name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                if name in ASSET_DECORATORS:
                    return True
    return False


def test_no_asset_module_imports_another_domains_asset_module():
    modules = our_modules()
    domain = lambda m: m.split(".")[1] if m.startswith("assets.") and m.count(".") >= 2 else None  # noqa: E731
    crossing = sorted(
        f"{m} -> {dep}"
        for m, path in modules.items()
        if domain(m) and defines_assets(path)
        for dep in imports(path, modules, top_level_only=False)
        if domain(dep) and domain(dep) != domain(m) and defines_assets(modules[dep])
    )
    assert crossing == []


def test_models_and_connectors_import_no_dagster():
    offenders = sorted(
        module_name(p)
        for pkg in ("models", "connectors")
        for p in (ROOT / pkg).rglob("*.py")
        if any(
            (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "dagster" for a in n.names))
            or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "dagster")
            for n in ast.walk(ast.parse(p.read_text()))
        )
    )
    assert offenders == []
