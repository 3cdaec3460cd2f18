"""The documentation shows what the program prints: the examples of docs/sequences.md are run
and their output compared with the text the page shows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cryolab.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEQUENCES_MD = ROOT / "docs" / "sequences.md"


def section(title: str) -> str:
    text = SEQUENCES_MD.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_the_python_example_prints_the_plan_the_docs_show(tmp_path):
    text = section("2. Sequences from Python")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    shown = re.search(r"The output, trimmed:\n\n```\n(.*?)```", text, re.S).group(1)
    code = code.replace("/tmp/two_fields.yaml", str(tmp_path / "two_fields.yaml"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)  # this checkout's cryolab
    assert result.returncode == 0, result.stderr
    # the page trims the YAML in the middle; the check's result and the plan are shown whole
    tail = shown[shown.index("\n[]\n") + 1:].splitlines()
    assert result.stdout.splitlines()[-len(tail):] == tail
    assert "hold until stable (±1%, 300 s window, ≤ 3600 s)" in result.stdout


def _examples() -> list[tuple[str, str, list[str], list[str]]]:
    """(file name, YAML, the command's arguments, the lines the page says it prints)."""
    text = section("5. Validation")
    files = dict(re.findall(r"`/tmp/(\w+\.yaml)`:\n\n```yaml\n(.*?)```", text, re.S))
    out = []
    for command, printed in re.findall(r"```\n\$ cryolab (.*?); echo \"exit code \$\?\"\n"
                                       r"(.*?)exit code 2\n```", text, re.S):
        args = command.split()
        name = Path(next(a for a in args if a.endswith(".yaml"))).name
        out.append((name, files[name], args, printed.splitlines()))
    return out


@pytest.mark.parametrize("example", _examples(), ids=lambda e: e[0])
def test_the_validation_examples_print_what_the_docs_show(example, tmp_path, capsys):
    name, yaml_text, args, shown = example
    (tmp_path / name).write_text(yaml_text)
    args = [a.replace("/tmp/", f"{tmp_path}/") for a in args]
    assert main(args) == 2
    printed = capsys.readouterr().err.replace(f"{tmp_path}/", "/tmp/").splitlines()
    assert printed == shown


def test_both_validation_examples_are_found():
    assert [e[0] for e in _examples()] == ["bad.yaml", "bad2.yaml"]


PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_cite_only_files_in_the_repository(page):
    """A page stands alone: every .md it names and every relative link resolves inside the
    repository (no DESIGN.md, no notes kept elsewhere)."""
    text = page.read_text(encoding="utf-8")
    cited = set(re.findall(r"[\w./-]*\w\.md\b", text))
    cited |= {link.split("#")[0] for link in re.findall(r"\]\(([^)#][^)]*)\)", text)
              if "://" not in link and not link.startswith("mailto:")}
    missing = [name for name in sorted(cited) if name and not any(
        (base / name).exists() for base in (page.parent, ROOT, ROOT / "docs"))]
    assert missing == []
