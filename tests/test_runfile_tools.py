"""A fresh run file opens in every tool a lab uses: h5py, pandas, xarray (h5netcdf), silx's NeXus
default plot and a tiled server — and through cryolab's own reader as DataFrame and Dataset."""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from cryolab.runfile import RunFile, open_runs
from cryolab.runfile.schema import LAYOUT
from cryolab.session import Session, validate

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "data" / "runfiles"
SEQUENCE = """
name: tools night
steps:
  - set_excitation: {current_nA: 0.5}
  - set_field: {field_Oe: 400, rate_Oe_per_s: 5}
  - ramp_temperature: {from_K: 0.3, to_K: 0.45, rate_K_per_min: 0.02}
  - set_field: {field_Oe: 500, rate_Oe_per_s: 5}
  - ramp_temperature: {from_K: 0.3, to_K: 0.45, rate_K_per_min: 0.02}
"""


@pytest.fixture(scope="module")
def night(tmp_path_factory) -> Path:
    """A completed simulated night: steps, points, fits, a field summary, events."""
    folder = tmp_path_factory.mktemp("night")
    seq = folder / "seq.yaml"
    seq.write_text(SEQUENCE)
    spec = validate(seq, None, simulated=True, speed=math.inf, seed=5)
    (folder / "runs").mkdir()
    path = folder / "runs" / "night.h5"
    session = Session(spec, path, lab_options={"banner_delay_s": 0.0})
    try:
        assert session.run() == "completed"
    finally:
        session.close()
    return path


def unpack(name: str, folder: Path) -> Path:
    out = folder / name.removesuffix(".gz")
    with gzip.open(FIXTURES / name, "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


def test_h5py_finds_the_nexus_default_and_every_unit(night):
    with h5py.File(night, "r") as f:
        assert f.attrs["NX_class"] == "NXroot" and f.attrs["cryolab_layout"] == LAYOUT
        entry = f[f.attrs["default"]]
        assert entry.attrs["NX_class"] == "NXentry"
        data = entry[entry.attrs["default"]]
        assert data.attrs["NX_class"] == "NXdata"
        assert data.attrs["signal"] == "xx_rho_ohm_sq" and list(data.attrs["axes"]) == \
            ["T_sample_K"]
        columns = {name: ds for name, ds in data.items() if name != "point"}
        lengths = {ds.shape for ds in columns.values()}
        assert len(lengths) == 1 and lengths.pop()[0] > 300
        for name, ds in columns.items():
            assert ds.attrs["units"] and ds.attrs["long_name"], name
        assert data["xx_rho_ohm_sq"].attrs["units"] == "ohm/sq"
        assert "flags" not in columns and {"point_flags", "xx_flags", "step"} <= set(columns)
        # provenance at the root
        for key in ("cryolab_version", "created", "status", "simulated", "speed", "seed",
                    "preset", "station", "sequence", "instruments", "channels",
                    "package_versions"):
            assert key in f.attrs, key
        # no variable-length strings anywhere (netCDF and tiled readers refuse them)
        def fixed_only(name, obj):
            if isinstance(obj, h5py.Dataset):
                dtype = obj.dtype
                for field in dtype.names or (None,):
                    sub = dtype[field] if field else dtype
                    assert h5py.check_string_dtype(sub) is None or sub.kind == "S", name
                    assert sub.kind != "O", name
        f.visititems(fixed_only)


def test_pandas_and_cryolab_read_the_same_columns(night):
    with h5py.File(night, "r") as f:  # without cryolab: one dict comprehension
        plain = pd.DataFrame({name: ds[()] for name, ds in f["entry/data"].items()
                              if name != "point"})
        steps = pd.DataFrame(f["entry/steps"][()])
    with RunFile(night) as run:
        frame = run.dataframe()
        assert frame.attrs["units"]["T_sample_K"] == "K"
        assert list(frame.columns) == list(plain.columns)
        pd.testing.assert_frame_equal(frame.reset_index(drop=True), plain, check_like=False)
        assert len(steps) == len(run.steps()) == 5
        ramp = run.dataframe(2)
        assert set(ramp["step"]) == {2} and len(ramp) == run.steps()[2].n_points
        every = run.points()
        for row, step in enumerate(run.steps()):  # by name: the same rows as by the column
            np.testing.assert_array_equal(run.points(step.name), every[every["step"] == row])
        events = run.events()
        assert events and all(isinstance(e["text"], str) and isinstance(e["level"], str)
                              for e in events)
        table = run.table("events")
        assert table["text"].map(type).eq(str).all()
        summary = run.summary_frame()
        assert list(summary["field_Oe"]) == [400.0, 500.0]
        assert set(summary["model"]) <= {"eq1", "eq2"}
        assert "H_star_Oe" in summary.attrs and summary.attrs["units"]["Ea_K"] == "K"
        fits = run.table("fits")
        assert len(fits) == 2 and fits["final"].all()
        fit = run.fit(2)
        assert fit["model"] in ("eq1", "eq2") and fit["n_points"] > 20
        table, results = run.summary()  # a named tuple: (table, results)
        assert len(table) == 2 and "notes" in results


def test_xarray_opens_the_points_as_named_variables(night):
    with xr.open_dataset(night, engine="h5netcdf", group="entry/data", phony_dims="sort") as ds:
        assert dict(ds.sizes) == {"point": ds.sizes["point"]} and ds.sizes["point"] > 300
        assert ds["xx_rho_ohm_sq"].attrs["units"] == "ohm/sq"
        assert ds["T_sample_K"].attrs["long_name"].startswith("sample temperature")
        with RunFile(night) as run:
            points = run.points()
            mine = run.xarray()
            one = run.xarray(step="002_ramp_temperature")
        np.testing.assert_array_equal(ds["xx_rho_ohm_sq"].values, points["xx_rho_ohm_sq"])
        xr.testing.assert_equal(mine[list(ds.data_vars)].drop_attrs(), ds.drop_attrs())
    assert set(one["step"].values) == {2}
    assert mine["xx_rho_ohm_sq"].attrs["units"] == "ohm/sq" and mine.attrs["seed"] == 5


def test_open_runs_is_lazy_across_a_folder_of_any_layout(night, tmp_path):
    second = tmp_path / "second.h5"
    shutil.copy(night, second)
    old = unpack("layout-1_completed.h5.gz", tmp_path)
    ds = open_runs([night, second, old])
    assert ds["xx_rho_ohm_sq"].chunks is not None  # dask: nothing read yet
    with RunFile(night) as run:
        n = len(run.points())
    with RunFile(old) as run:
        n_old = len(run.points())
    assert ds.sizes["point"] == 2 * n + n_old
    assert list(np.unique(ds["run"].values)) == sorted(["night", "second", old.stem])
    per_run = ds["xx_rho_ohm_sq"].groupby(ds["run"]).count().compute()
    assert int(per_run.sel(run="second")) == n


def test_silx_plots_rho_against_the_sample_temperature(night):
    from silx.io.nxdata import get_default

    with h5py.File(night, "r") as f:
        nx = get_default(f)
        assert nx is not None and nx.is_valid and nx.signal_ndim == 1
        assert nx.signal_dataset_name == "xx_rho_ohm_sq"
        assert nx.axes_dataset_names == ["T_sample_K"]
        assert nx.signal_name == "xx: resistivity"  # its long_name, shown on the plot
        signal, axis = nx.signal[()], nx.axes[0][()]
    with RunFile(night) as run:
        points = run.points()
    np.testing.assert_array_equal(signal, points["xx_rho_ohm_sq"])
    np.testing.assert_array_equal(axis, points["T_sample_K"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tiled_serves_a_folder_of_run_files(night, tmp_path):
    """`tiled serve directory` with cryolab's adapter, on loopback, read back by tiled's client."""
    from tiled.client import from_uri

    folder = tmp_path / "runs"
    folder.mkdir()
    shutil.copy(night, folder / "night.h5")
    unpack("cryolab-0.1_completed.h5.gz", folder).rename(folder / "old_night.h5")
    with h5py.File(folder / "other.h5", "w") as f:  # not a run: tiled's own adapter serves it
        f["x"] = np.arange(3.0)
    port, key = free_port(), secrets.token_hex(16)
    tiled = Path(sys.executable).with_name("tiled")
    server = subprocess.Popen(
        [str(tiled), "serve", "directory", str(folder), "--host", "127.0.0.1", "--port",
         str(port), "--api-key", key,
         "--adapter", "application/x-hdf5=cryolab.runfile.tiled_adapter:RunFileAdapter"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        client, deadline = None, time.monotonic() + 90
        while time.monotonic() < deadline:  # the server indexes the folder after it starts
            if server.poll() is not None:
                pytest.fail(f"tiled exited: {server.stderr.read().decode()[-6000:]}")
            with contextlib.suppress(Exception):
                client = from_uri(f"http://127.0.0.1:{port}", api_key=key)
                if {"night", "old_night", "other"} <= set(client):
                    break
            time.sleep(0.5)
        assert client is not None and "night" in set(client), "tiled did not serve the folder"
        run = client["night"]
        assert {"points", "steps", "events", "fits", "summary_xx"} <= set(run)
        assert run.metadata["status"] == "completed" and run.metadata["speed"] is None
        assert run.metadata["units"]["xx_rho_ohm_sq"] == "ohm/sq"
        rho = run["points"].read(["xx_rho_ohm_sq"])["xx_rho_ohm_sq"].to_numpy()
        with RunFile(night) as local:
            np.testing.assert_array_equal(rho, local.points()["xx_rho_ohm_sq"])
        assert "text" in run["events"].read().columns
        old = client["old_night"]["points"].read()
        assert len(old) > 300 and "xx_rho_ohm_sq" in old.columns
        np.testing.assert_array_equal(client["other"]["x"].read(), np.arange(3.0))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
