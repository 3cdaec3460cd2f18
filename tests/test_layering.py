"""instruments/ holds drivers only: nothing under it imports cryolab (DESIGN.md, Architecture)."""

import ast
import subprocess
import sys
from pathlib import Path

INSTRUMENTS = Path(__file__).resolve().parent.parent / "instruments"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_module_under_instruments_imports_cryolab_in_its_source():
    offenders = {str(p.relative_to(INSTRUMENTS.parent)): sorted(m for m in imported_modules(p)
                                                                if m.split(".")[0] == "cryolab")
                 for p in sorted(INSTRUMENTS.rglob("*.py"))}
    assert {p: m for p, m in offenders.items() if m} == {}
    assert not (INSTRUMENTS / "simulated").exists()  # the twins moved to cryolab.sim


def test_importing_every_driver_loads_no_cryolab_module():
    """Also catches an import hidden in a function or done through importlib at import time."""
    modules = [f"instruments.{p.stem}" for p in sorted(INSTRUMENTS.glob("*.py"))
               if p.stem != "__init__"]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'cryolab'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=INSTRUMENTS.parent, timeout=120, check=True)
    assert result.stdout.strip() == "[]"
