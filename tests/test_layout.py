# SPDX-License-Identifier: BSD-3-Clause
"""The package layout of DESIGN.md §4: no import cycle between modules, nothing imported from the test trees."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "python" / "venom_fpga"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every venom_fpga module a file imports, at any depth (lazy imports inside functions count too)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}
    return out


def import_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        # an import of a package also runs its __init__; "from pkg import mod" imports pkg.mod
        graph[name] = {m for m in _imports(path) if m in modules and m != name and m != "venom_fpga"}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (c := visit(m)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (c := visit(n)):
            return c
    return None


def test_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 20  # the walk found the package
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_cycle_detector_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_library_does_not_import_test_code():
    for path in PKG.rglob("*.py"):
        for mod in _imports(path):
            top = mod.split(".")[0]
            assert top not in ("tests", "cocotb_tests", "common", "model_zoo", "conftest"), f"{path}: imports {mod}"
        assert "sys.path.insert" not in path.read_text(), f"{path}: changes sys.path"


SPDX = "SPDX-License-Identifier: BSD-3-Clause"
HAND_WRITTEN = ("python/venom_fpga/**/*.py", "tests/**/*.py", "cocotb_tests/**/*.py", "cocotb_tests/**/*.v",
                "scripts/*.py", "scripts/*.sh", "scripts/*.tcl", "hls/include/**/*.h", "rtl/*.v")


def test_every_hand_written_source_file_carries_the_licence():
    """LICENSE is BSD-3-Clause (as pyproject.toml says); every hand-written source file says so in its first lines
    (generated files say GENERATED instead)."""
    root = PKG.parents[1]
    assert "BSD 3-Clause" in (root / "LICENSE").read_text() or "Redistribution and use" in (root / "LICENSE").read_text()
    files = [p for g in HAND_WRITTEN for p in root.glob(g)]
    assert len(files) > 80
    missing = [str(p.relative_to(root)) for p in files if SPDX not in "".join(p.read_text().splitlines(True)[:3])]
    assert not missing, missing
