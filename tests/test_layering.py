"""The layers stay apart: ``instruments/`` holds drivers only and never imports cryolab; above
the role adapters, the registry and the simulation, nothing names an instrument model
(docs/architecture.md)."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTRUMENTS = ROOT / "instruments"
CRYOLAB = ROOT / "cryolab"
#: where model names belong: the adapters onto roles, the registry, the simulated twins
KNOWS_MODELS = ("roles/lockins.py", "roles/bridges.py", "roles/magnets.py",
                "roles/registry.py", "sim/")
MODEL_WORDS = re.compile(r"SR830|SR86\d|LS37\d|AMI\s?430|Mercury\s?iPS|CM4G|Cryomagnetics|"
                         r"OUTMODE|KRDG\?|SRDG\?|MagnetState|"
                         r"(from|import) instruments\.(?!limits|lockin_filter|adapter)")


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


def test_nothing_above_the_adapters_names_a_model():
    """A new model is a driver, an adapter, a twin and a registry row: the runner, the steps,
    the station, the GUI and the analysis never need to change for one."""
    found = []
    for path in sorted(CRYOLAB.rglob("*.py")):
        where = path.relative_to(CRYOLAB).as_posix()
        if where.startswith(KNOWS_MODELS):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if MODEL_WORDS.search(line):
                found.append(f"cryolab/{where}:{number}: {line.strip()}")
    assert found == []


def test_the_model_word_search_finds_what_it_looks_for():
    for line in ("from instruments.srs_sr830 import SR830", "bridge.query('KRDG? 1')",
                 "if state is MagnetState.HOLDING:", "OUTMODE 0,5,1", "an AMI 430 supply"):
        assert MODEL_WORDS.search(line), line
    assert not MODEL_WORDS.search("from instruments.limits import Span")
