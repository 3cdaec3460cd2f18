"""What the page shows of a run, as JSON-ready dicts: the run list, and one run's view (status,
current step, newest readings, alarms and faults, decimated curves, the end by the clock)."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from cryolab.models import PARAMS, rho
from cryolab.monitor.decimate import minmax, stride
from cryolab.monitor.watch import TERMINAL, RunState, RunWatcher

#: the page's plots are at most this many pixel columns wide (2 points per column)
MAX_COLUMNS = 2000
#: the ρ(T) plot of the current step shows at most this many points of each channel
MAX_STEP_POINTS = 4000
TAIL = 50  # newest alarms, faults and log lines shown


def liveness(watcher: RunWatcher, stall_after_s: float, now: float | None = None
             ) -> dict[str, Any]:
    """Whether the night still grows: 'running', 'stalled' (no new point for stall_after_s),
    'gone' (the file says running but no process writes it), or the file's final status."""
    now = time.time() if now is None else now
    state, live = watcher.state, watcher.live
    quiet_s = max(0.0, now - live.last_growth_wall)
    out: dict[str, Any] = {"quiet_s": quiet_s, "stall_after_s": stall_after_s,
                           "writer_alive": live.writer_alive}
    if state is None:
        out.update(state="unreadable", message=watcher.error or "not read yet")
    elif state.status != "running":
        out.update(state=state.status, message=_ended_message(state))
    elif live.writer_alive is False:
        out.update(state="gone", message="the acquisition process is gone: the file says "
                   "running but no process writes it (killed or crashed)")
    elif quiet_s >= stall_after_s and live.gone_since_wall is None:  # (gone: being confirmed)
        out.update(state="stalled", message=f"no new point for {_duration(quiet_s)} while "
                   "the file says running (the acquisition may hang)")
    else:
        out.update(state="running", message="")
    return out


def _ended_message(state: RunState) -> str:
    reason = state.attrs.get("end_reason") or ""
    words = {"completed": "the night ended", "aborted": "the run was aborted",
             "failed": "the run failed", "interrupted": "the run was interrupted"}
    text = words.get(state.status, state.status)
    return f"{text}: {reason}" if reason else text


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def summary(watcher: RunWatcher, stall_after_s: float) -> dict[str, Any]:
    """One line of the run list."""
    state = watcher.state
    out: dict[str, Any] = {"id": watcher.id, "file": watcher.path.name,
                           "live": liveness(watcher, stall_after_s)}
    if state is not None:
        step = state.current_step
        out.update(name=state.name, status=state.status, n_points=state.n_points,
                   created_s=_num(state.attrs.get("created")),
                   simulated=bool(state.attrs.get("simulated", False)),
                   step=None if step is None else {"index": step.index, "kind": step.kind})
    return out


def run_view(watcher: RunWatcher, width: int, stall_after_s: float) -> dict[str, Any]:
    """Everything the run page draws; ``width``: the plots' width in pixels."""
    state = watcher.state
    out: dict[str, Any] = {"id": watcher.id, "file": watcher.path.name,
                           "live": liveness(watcher, stall_after_s), "error": watcher.error}
    if state is None:
        return out
    plan = watcher.plan()
    attrs = state.attrs
    speed = _num(attrs.get("speed"))
    out.update({
        "version": state.version, "name": state.name, "status": state.status,
        "end_reason": attrs.get("end_reason") or "",
        "simulated": bool(attrs.get("simulated", False)),
        "speed": speed if speed is None or math.isfinite(speed) else "max",
        "preset": attrs.get("preset") or None,
        "n_points": state.n_points,
        "channels": [{"name": c["name"], "kind": c.get("kind", "")} for c in state.channels],
        "step": _step(state, plan),
        "end": _end(state, plan),
        "alarms": [_row(a, ("time_s", "kind", "message")) for a in state.alarms[-TAIL:]],
        "faults": [_row(f, ("time_s", "instrument", "kind", "action", "detail"))
                   for f in state.faults[-TAIL:]],
        "events": [_row(e, ("time_s", "level", "text")) for e in state.events[-TAIL:]],
    })
    if state.points is not None:
        out["latest"] = _latest(state)
        out["night"] = _night(state.points, max(100, min(width, MAX_COLUMNS)))
        out["step_curve"] = _step_curve(state)
    return out


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) or math.isinf(v) else None


def _row(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: (_clean(row.get(k))) for k in keys}


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _step(state: RunState, plan: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    step = state.current_step
    if step is None:
        return None
    planned = plan[step.index] if plan and 0 <= step.index < len(plan) else None
    return {"index": step.index, "n_steps": len(plan) if plan else None, "kind": step.kind,
            "what": planned["what"] if planned else step.kind, "status": step.status,
            "started_s": _clean(step.started), "n_points": step.n_points}


def _file_now(state: RunState) -> float:
    """The run's clock now: wall time on hardware; the simulated clock mapped from the wall
    under a scaled clock; under the virtual clock (--speed max) the newest time in the file."""
    attrs = state.attrs
    if not attrs.get("simulated"):
        return state.read_wall
    speed = _num(attrs.get("speed")) or math.inf
    wall0, sim0 = _num(attrs.get("clock_wall_origin_s")), _num(attrs.get("clock_sim_origin_s"))
    if math.isfinite(speed) and wall0 is not None and sim0 is not None and \
            math.isfinite(wall0) and math.isfinite(sim0):
        return sim0 + (state.read_wall - wall0) * speed
    times = [s.started for s in state.steps if math.isfinite(s.started)]
    if state.points is not None and len(state.points["time_s"]):
        times.append(float(state.points["time_s"][-1]))
    return max(times) if times else state.read_wall


def _end(state: RunState, plan: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """When the night ends by the clock: the plan's estimates of the steps still to come."""
    step = state.current_step
    if state.status in TERMINAL:
        ended = [s.ended for s in state.steps if math.isfinite(s.ended)]
        return {"ended": True, "at_s": max(ended) if ended else None}
    if not plan or step is None or state.status != "running":
        return None
    now = _file_now(state)
    later = sum(p["estimate_s"] for p in plan[step.index + 1:])
    current = plan[step.index]["estimate_s"] if step.index < len(plan) else 0.0
    elapsed = now - step.started if math.isfinite(step.started) else 0.0
    remaining = later + max(0.0, current - elapsed)
    speed = _num(state.attrs.get("speed")) or 1.0
    out = {"ended": False, "at_s": now + remaining, "remaining_s": remaining}
    if state.attrs.get("simulated"):
        out["wall_remaining_s"] = remaining / speed if math.isfinite(speed) else None
    return out


def _latest(state: RunState) -> dict[str, Any] | None:
    p = state.points
    assert p is not None
    if not len(p["time_s"]):
        return None
    T_mc, T_s = float(p["T_mc_K"][-1]), float(p["T_sample_K"][-1])
    mismatch = (T_s - T_mc) / T_mc if T_mc > 0 else math.nan
    return {"time_s": float(p["time_s"][-1]), "T_mc_K": _clean(T_mc),
            "T_sample_K": _clean(T_s), "mismatch": _clean(mismatch),
            "field_Oe": _clean(float(p["field_Oe"][-1])),
            "rho": {c["name"]: _clean(float(p[f"{c['name']}_rho_ohm_sq"][-1]))
                    for c in state.channels},
            "rho_units": {c["name"]: "Ω" if c.get("kind") == "hall" else "Ω/□"
                          for c in state.channels}}


def _rounded(a: np.ndarray, digits: int = 6) -> list[float | None]:
    """A compact JSON list: ``digits`` significant digits, NaN as null."""
    a = np.asarray(a, dtype=float)
    finite = np.isfinite(a)
    if not finite.any():
        return [None] * len(a)
    top = float(np.max(np.abs(a[finite])))
    decimals = digits - 1 - (math.floor(math.log10(top)) if top > 0 else 0)
    rounded = np.round(a, decimals) if decimals >= 0 else a
    values = rounded.tolist()
    if finite.all():
        return values
    return [v if ok else None for v, ok in zip(values, finite.tolist(), strict=True)]


def _times(t: np.ndarray) -> tuple[float, list[float | None]]:
    """Times as an origin and offsets to 0.1 s (shorter than 13-digit Unix seconds)."""
    if not len(t):
        return 0.0, []
    t0 = float(t[0])
    return t0, np.round(t - t0, 1).tolist()


def _night(points: dict[str, np.ndarray], columns: int) -> dict[str, Any]:
    """Temperatures and field against time over the whole night, min/max per pixel column."""
    t = points["time_s"]
    order_ok = len(t) < 2 or bool(np.all(np.diff(t) >= 0))
    if not order_ok:  # a resumed run's clock never runs back; be safe anyway
        idx = np.argsort(t, kind="stable")
        points = {k: v[idx] for k, v in points.items()}
        t = points["time_s"]
    x, (T_mc, T_s, H) = minmax(t, [points["T_mc_K"], points["T_sample_K"],
                                   points["field_Oe"]], columns)
    t0, offsets = _times(x)
    return {"t0_s": t0, "t_s": offsets, "T_mc_K": _rounded(T_mc), "T_sample_K": _rounded(T_s),
            "field_Oe": _rounded(H, 5), "n": len(t)}


def _step_curve(state: RunState) -> dict[str, Any] | None:
    """ρ(T) of the newest step with points, each longitudinal channel, with its fit."""
    p = state.step_points
    if p is None or not len(p["time_s"]):
        return None
    idx = stride(len(p["time_s"]), MAX_STEP_POINTS)
    step = next((s for s in state.steps if s.name == state.points_step), None)
    channels = {}
    for ch in state.longitudinal:
        valid = np.asarray(p[f"{ch}_valid"])[idx]
        valid = valid.astype(bool) if valid.dtype.kind == "b" else np.nan_to_num(valid) > 0
        channels[ch] = {"rho": _rounded(p[f"{ch}_rho_ohm_sq"][idx]),
                        "valid": valid.tolist(), "fit": _fit_curve(state.fits.get(ch))}
    return {"step": state.points_step, "kind": step.kind if step else "",
            "index": step.index if step else None, "n": len(p["time_s"]),
            "field_Oe": _clean(float(np.nanmedian(p["field_Oe"])))
            if np.isfinite(p["field_Oe"]).any() else None,
            "T_K": _rounded(p["T_sample_K"][idx]), "channels": channels}


def _fit_curve(fit: dict[str, Any] | None, n: int = 80) -> dict[str, Any] | None:
    """The stored fit as a curve over its temperature range, and its parameters."""
    if not fit:
        return None
    model = fit.get("model")
    if model not in PARAMS:
        return None
    try:
        params = [float(fit[name]) for name in PARAMS[model]]
        lo, hi = float(fit["T_min_K"]), float(fit["T_max_K"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (0 < lo < hi and all(math.isfinite(v) for v in params)):
        return None
    T = np.geomspace(lo, hi, n)
    with np.errstate(all="ignore"):
        curve = rho(model, T, *params)
    return {"model": model, "params": dict(zip(PARAMS[model], params, strict=True)),
            "chi2_red": _clean(_num(fit.get("chi2_red"))), "final": bool(fit.get("final")),
            "T_K": _rounded(T), "rho": _rounded(curve)}
