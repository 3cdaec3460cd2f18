"""A tiled adapter for run files: a lab serves its folder of nights with tiled (the Bluesky
project's data service) and reads them from anywhere with ``tiled.client``.

    tiled serve directory RUNS/ --public --host 127.0.0.1 \\
        --adapter application/x-hdf5=cryolab.runfile.tiled_adapter:RunFileAdapter

tiled's own HDF5 adapter serves every dataset as an array, and answers HTTP 500 on a column
carrying the dimension-scale references xarray needs and on any compound table; this one
serves each run (any layout cryolab reads) as a container of tables, read through
:class:`~cryolab.runfile.RunFile` when a client asks, so a live night is seen as it grows:

* ``points``: one column per quantity, as ``RunFile.dataframe()``;
* ``steps``, ``events``, ``alarms``, ``faults``, ``segments``, ``fits``: as ``RunFile.table()``;
* ``summary_<channel>``: the field summary of each longitudinal channel that has one.

The run's root attributes are the container's metadata (units per column under ``units``).
Any other HDF5 file in the folder is served by tiled's own adapter, as without this one.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

from tiled.adapters.hdf5 import HDF5Adapter
from tiled.adapters.mapping import MapAdapter
from tiled.adapters.table import TableAdapter
from tiled.utils import OneShotCachedMap, path_from_uri

from cryolab.runfile.reader import RunFile
from cryolab.runfile.schema import RunFileError

#: the tables every run offers besides its points and summaries
TABLE_NAMES = ("steps", "events", "alarms", "faults", "segments", "fits")
#: root attributes holding JSON, served decoded
_JSON_ATTRS = ("sample", "channels", "station", "instruments", "flag_bits", "package_versions")


def _is_run(path: Path) -> bool:
    try:
        RunFile(path).close()
    except (RunFileError, OSError):
        return False
    return True


def _plain(value: Any) -> Any:
    """JSON for tiled's catalog: no NaN or infinity (``--speed max`` is inf)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def run_metadata(run: RunFile) -> dict[str, Any]:
    out = {}
    for key, value in run.attrs.items():
        if key in _JSON_ATTRS and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        out[key] = _plain(value)
    out["units"] = run.units()
    return out


def _table(path: Path, name: str) -> TableAdapter:
    with RunFile(path) as run:
        if name == "points":
            frame = run.dataframe()
            frame.attrs.clear()
        elif name.startswith("summary_"):
            frame = run.summary_frame(name.removeprefix("summary_"))
            frame.attrs.clear()
        else:
            frame = run.table(name)
    return TableAdapter.from_pandas(frame, npartitions=1)


def run_adapter(path: Path, metadata: dict | None = None, specs: list | None = None
                ) -> MapAdapter:
    """The container tiled serves for one run file; its tables are read when asked for."""
    with RunFile(path) as run:
        names = ["points", *TABLE_NAMES]
        names += [f"summary_{ch}" for ch in run.longitudinal_channels()
                  if run.summary(ch) is not None]
        if metadata is None:
            metadata = run_metadata(run)
    tables = OneShotCachedMap({name: (lambda n=name: _table(path, n)) for name in names})
    return MapAdapter(tables, metadata=metadata, specs=specs)


class RunFileAdapter:
    """What ``tiled serve … --adapter application/x-hdf5=…:RunFileAdapter`` loads."""

    @classmethod
    def from_uris(cls, data_uri: str, **kwargs: Any) -> Any:
        path = Path(path_from_uri(data_uri))
        if not _is_run(path):
            return HDF5Adapter.from_uris(data_uri, **kwargs)
        return run_adapter(path)

    @classmethod
    def from_catalog(cls, data_source: Any, node: Any, /, **kwargs: Any) -> Any:
        path = Path(path_from_uri(data_source.assets[0].data_uri))
        if not _is_run(path):
            return HDF5Adapter.from_catalog(data_source, node, **kwargs)
        return run_adapter(path, metadata=node.metadata_, specs=node.specs)
