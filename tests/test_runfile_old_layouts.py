"""Run files written by earlier cryolab versions (tests/data/runfiles, made from git by the
script there) stay readable by every command — fit, report, export, the monitor, the GUI's
review — and an interrupted one is resumed: converted to the columnar layout first, its
original kept."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from cryolab.cli import main
from cryolab.runfile import RunFile, RunWriter, upgrade_layout
from cryolab.runfile.schema import LAYOUT, RunFileError
from tests.test_gui import gui  # noqa: F401 - the GUI fixture

FIXTURES = Path(__file__).parent / "data" / "runfiles"
OLD = {"cryolab-0.1": 0, "layout-1": 1}


def unpack(name: str, folder: Path) -> Path:
    out = folder / f"{name}.h5"
    with gzip.open(FIXTURES / f"{name}.h5.gz", "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


@pytest.fixture(params=[f"{v}_{s}" for v in OLD for s in ("completed", "aborted")])
def old_file(request, tmp_path) -> Path:
    return unpack(request.param, tmp_path)


def test_the_reader_opens_every_old_layout(old_file):
    version = old_file.stem.split("_")[0]
    with RunFile(old_file) as run:
        assert run.layout == OLD[version]
        assert run.channel_names == ["xx"]
        steps = run.steps()
        points = run.points()
        assert len(points) == sum(s.n_points for s in steps) > 50
        assert list(np.unique(points["step"])) == [i for i, s in enumerate(steps) if s.n_points]
        assert all(isinstance(e["text"], str) for e in run.events())
        frame = run.dataframe()
        assert len(frame) == len(points) and "xx_rho_ohm_sq" in frame
        assert run.xarray()["xx_rho_ohm_sq"].attrs["units"] == "ohm/sq"
        if old_file.stem.endswith("completed"):
            assert run.status == "completed"
            assert run.fit(2)["model"] in ("eq1", "eq2")
            assert list(run.summary_frame()["field_Oe"]) == [400.0, 500.0]
        else:
            assert run.status == "aborted" and len(steps) == 4


def test_fit_report_and_export_read_old_files(old_file, tmp_path, capsys):
    capsys.readouterr()
    assert main(["fit", str(old_file), "--json"]) == 0
    fields = [f["field_Oe"] for f in json.loads(capsys.readouterr().out)["fields"]]
    assert fields == ([400.0, 500.0] if old_file.stem.endswith("completed") else [400.0])
    assert main(["report", str(old_file), "-o", str(tmp_path / "report.png")]) == 0
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert main(["export", str(old_file), "--csv", str(tmp_path / "csv")]) == 0
    with RunFile(old_file) as run:
        n = len(run.points())
    lines = (tmp_path / "csv" / "points.csv").read_text().splitlines()
    assert len(lines) == n + 1 and lines[0].startswith("step,step_index,time_s,T_mc_K")


def test_the_monitor_shows_an_old_file(old_file):
    """cryolab monitor's page (what its HTTP API answers) for a file of an older layout."""
    from cryolab.monitor.view import run_view
    from cryolab.monitor.watch import RunWatcher

    watcher = RunWatcher(old_file)
    try:
        state = watcher.want_points()
        assert watcher.error is None and state is not None
        view = json.loads(json.dumps(run_view(watcher, 800, 3600)))  # as the page gets it
    finally:
        watcher.close()
    with RunFile(old_file) as run:
        n, status, last = len(run.points()), run.status, run.events()[-1]["text"]
    assert (view["status"], view["n_points"]) == (status, n)
    assert [c["name"] for c in view["channels"]] == ["xx"]
    assert view["events"][-1]["text"] == last
    assert view["latest"] and view["night"]


@pytest.mark.parametrize("name", ["cryolab-0.1_completed", "layout-1_completed"])
def test_the_gui_reviews_an_old_file(gui, tmp_path, name):  # noqa: F811 - the fixture
    path = unpack(name, tmp_path)
    window = gui()
    assert window.open_run_file(str(path))
    assert window.store.state == "review"
    assert window.sequence.plan.rowCount() == 5
    assert window.store.points.n > 300
    assert len(window.store.fits) == 2  # both ramps fitted again for the review


@pytest.mark.parametrize("version", list(OLD))
def test_resume_finishes_an_old_file_in_the_columnar_layout(tmp_path, version, capsys):
    path = unpack(f"{version}_aborted", tmp_path)
    original = path.read_bytes()
    with RunFile(path) as run:
        before = run.points()
    assert main(["resume", str(path), "--speed", "max"]) == 0
    backup = path.with_name(f"{path.name}.layout-{OLD[version]}")
    assert backup.read_bytes() == original  # the original, untouched, beside it
    with RunFile(path) as run:
        assert run.layout == LAYOUT and run.status == "completed"
        assert run.attrs["upgraded_from"]
        after = run.points()
        steps = run.steps()
        segments = run.segments()
        for row in range(len(steps)):  # the interrupted attempt and the new one apart
            np.testing.assert_array_equal(run.points(row), after[after["step"] == row])
    for name in before.dtype.names:  # what was measured before is there, unchanged
        np.testing.assert_array_equal(after[name][:len(before)], before[name])
    assert len(after) > len(before)
    assert [s["end_status"] for s in segments] == ["aborted", "completed"]
    assert [s.status for s in steps] == ["completed"] * 3 + ["aborted"] + ["completed"] * 2
    assert [s.index for s in steps] == [0, 1, 2, 3, 3, 4]
    with h5py.File(path, "r") as f:  # a plain reader sees one layout, NeXus default and all
        assert f.attrs["default"] == "entry" and "steps" not in f


def test_upgrade_leaves_a_columnar_file_alone_and_the_writer_refuses_old_ones(tmp_path):
    old = unpack("layout-1_aborted", tmp_path)
    with pytest.raises(RunFileError, match="older layout"):
        RunWriter(old, {}, ["xx"], append=True)
    assert upgrade_layout(old) is not None
    assert upgrade_layout(old) is None  # already columnar: nothing to do
