"""The strip across the top of the window that is always visible, whatever tab or panel is
open: what the run is doing, whether the sample is in thermal equilibrium with the mixing
chamber, and when the night ends by the clock."""

from __future__ import annotations

import math

from cryolab.eta import clock_time, wall_end
from cryolab.gui.qt import QtWidgets
from cryolab.gui.store import DataStore

OK, WARN, IDLE = "#2e7d32", "#b26a00", "#555555"


class NightStatus(QtWidgets.QFrame):
    """Three labels: ``state`` (run state and step), ``equilibrium``, ``end``."""

    def __init__(self) -> None:
        super().__init__()
        self.setFrameShape(QtWidgets.QFrame.StyledPanel)
        self.state = QtWidgets.QLabel("idle")
        self.equilibrium = QtWidgets.QLabel("thermal equilibrium: —")
        self.end = QtWidgets.QLabel("")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 8, 2)
        for label, stretch in ((self.state, 3), (self.equilibrium, 2), (self.end, 2)):
            label.setWordWrap(True)
            layout.addWidget(label, stretch)

    def update_from(self, store: DataStore, busy: bool, speed: float, simulated: bool) -> None:
        self._state(store, busy)
        self._equilibrium(store)
        self._end(store, busy, speed, simulated)

    def _state(self, store: DataStore, busy: bool) -> None:
        step = store.current_step
        where = ""
        if step is not None and 0 <= step < len(store.plan):
            where = f" — step {step + 1}/{len(store.plan)}: {store.plan[step].describe()}"
        state = store.state if busy or store.state not in ("running", "paused", "waiting") \
            else "idle"
        if state == "review":
            state = f"reviewing a {store.review_status or 'run'} run"
        self.state.setText(f"<b>{state}</b>{where}")

    def _equilibrium(self, store: DataStore) -> None:
        ratio, streak = store.equilibrium()
        limit = store.mismatch_threshold
        if not math.isfinite(ratio):
            text, color = "thermal equilibrium: —", IDLE
        elif abs(ratio) <= limit:
            text, color = (f"thermal equilibrium: yes (T_sample/T_MC − 1 = {ratio:+.1%}, "
                           f"limit ±{limit:.0%})"), OK
        else:
            text, color = (f"thermal equilibrium: NO for {streak} point"
                           f"{'s' if streak != 1 else ''} (T_sample/T_MC − 1 = {ratio:+.1%}, "
                           f"limit ±{limit:.0%}): excluded from fits"), WARN
        self.equilibrium.setText(text)
        self.equilibrium.setStyleSheet(f"color: {color}; font-weight: bold;")

    def _end(self, store: DataStore, busy: bool, speed: float, simulated: bool) -> None:
        _, left = store.progress()
        if not busy or not math.isfinite(left):
            self.end.setText("")
            return
        text = f"night ends about {clock_time(wall_end(left, speed))} local time"
        if simulated and math.isfinite(store.last_time):  # the simulated clock runs ahead
            text += f" (lab clock {clock_time(store.last_time + left, store.last_time)})"
        self.end.setText(text + f"; {_duration(left)} of lab time left")


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"

