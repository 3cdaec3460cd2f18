"""CSV export of a run file: points (one column per quantity), steps, events, segments."""

from __future__ import annotations

import csv
from pathlib import Path

from cryolab.runfile.reader import RunFile


def export_csv(path: str | Path, out_dir: str | Path) -> list[Path]:
    """Write points.csv (all steps, with a step column), steps.csv, events.csv, segments.csv."""
    out = Path(out_dir)
    written = []
    with RunFile(path) as run:  # refuse a bad file before creating anything
        out.mkdir(parents=True, exist_ok=True)
        frame = run.dataframe()
        frame.to_csv(out / "points.csv", index=False)
        written.append(out / "points.csv")
        with open(out / "steps.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["name", "kind", "index", "status", "started", "ended", "n_points",
                        "description"])
            for s in run.steps():
                w.writerow([s.name, s.kind, s.index, s.status, s.started, s.ended, s.n_points,
                            s.attrs.get("description", "")])
        written.append(out / "steps.csv")
        for name, rows in (("events", run.events()), ("segments", run.segments())):
            with open(out / f"{name}.csv", "w", newline="") as f:
                keys = list(rows[0]) if rows else []
                table = csv.DictWriter(f, fieldnames=keys)
                table.writeheader()
                table.writerows(rows)
            written.append(out / f"{name}.csv")
    return written
