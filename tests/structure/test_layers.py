"""The package's shape: imports go one way down the layers, no cycles, small modules.

Every `import` and `from ... import` in src/poft counts, at module level or
inside a function (a lazy import is still a dependency). docs/architecture.md
describes the layers this test holds the code to.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
REPO = SRC.parent

# Bottom to top; a package may import only packages below it (and itself).
LAYERS = [
    ["poft.errors", "poft.interrupts"],
    ["poft.learning", "poft.aggregation", "poft.commitment", "poft.store", "poft.ledger"],
    ["poft.attacks", "poft.config"],
    ["poft.protocol", "poft.outputs"],
    ["poft.drivers"],
    ["poft.experiment", "poft.demo"],
    ["poft.cli", "poft.__main__", "poft.api"],
]
RANK = {pkg: level for level, pkgs in enumerate(LAYERS) for pkg in pkgs}
NUMERIC_CORES = ("poft.learning", "poft.aggregation", "poft.attacks", "poft.commitment")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def imported(path: Path, name: str) -> set[str]:
    """Every module of poft (and every outside top-level package) that `path` imports."""
    out: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + is_package]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.add(module)
            out |= {f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in MODULES}
    return out


GRAPH = {name: imported(path, name) for name, path in MODULES.items()}


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}   # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_cycle_between_modules():
    graph = {m: {t for t in ts if t in MODULES and t != m} for m, ts in GRAPH.items()}
    assert find_cycle(graph) is None


def test_no_cycle_between_packages():
    graph: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        for target in targets:
            a, b = package_of(module), package_of(target)
            if target in MODULES and a != b and "poft" not in (a, b):
                graph.setdefault(a, set()).add(b)
    assert find_cycle(graph) is None


def test_every_package_has_a_layer():
    packages = {package_of(m) for m in MODULES} - {"poft"}
    assert packages <= set(RANK), f"put {sorted(packages - set(RANK))} into LAYERS"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    if module == "poft":
        return
    mine = RANK[package_of(module)]
    upward = sorted(t for t in GRAPH[module]
                    if t in MODULES and package_of(t) != "poft" and RANK[package_of(t)] > mine)
    assert not upward, f"{module} imports {upward} from a higher layer"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("poft.ledger")))
def test_the_ledger_never_imports_torch(module):
    assert not any(t == "torch" or t.startswith("torch.") for t in GRAPH[module])


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(NUMERIC_CORES)))
def test_numeric_cores_never_import_the_chain(module):
    assert not any(t.startswith(("poft.ledger", "poft.store", "web3", "eth_")) for t in GRAPH[module])


def test_no_module_past_400_lines():
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text().splitlines())) > 400}
    assert not long, f"split these modules: {long}"


def test_no_file_points_outside_the_repository():
    files = [p for p in REPO.rglob("*") if p.is_file() and p.suffix in {".py", ".md", ".toml", ".cfg"}
             and not {".venv", "node_modules", ".git", ".poft-cache", "runs"} & set(p.relative_to(REPO).parts)]
    needle_a, needle_b = "DESIGN" + ".md", "../" + "shared"
    pointing = [str(p.relative_to(REPO)) for p in files
                if needle_a in (text := p.read_text(errors="replace")) or needle_b in text]
    assert not pointing
