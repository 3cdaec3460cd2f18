"""The notifications file (YAML): targets as apprise URLs, which events go where, rate limit,
retries, the stall time and the page's access token — validated like every cryolab input."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from cryolab.inputs import (
    InputError,
    Name,
    Number,
    WholeNumber,
    near_miss,
    read_yaml_mapping,
    validation_problems,
)
from cryolab.monitor.arguments import TOKEN_ENV

#: what a notification can be about; the notifications file routes these names
EVENTS: dict[str, str] = {
    "run_ended": "the run completed",
    "run_failed": "the run failed or was aborted (or interrupted)",
    "quench": "the magnet quenched",
    "over_temperature": "the mixing chamber went above the station's limit",
    "instrument_down": "an instrument stopped answering (and when it answers again)",
    "thermal_mismatch": "the sample stays out of thermal equilibrium although the ramp slowed",
    "disk_space_low": "the run file's disk is filling",
    "run_stalled": "no new point for stall_after_s while the file says running, or the "
                   "acquisition process is gone",
}
ALL = "all"
#: an access token is long enough to be unguessable and plain enough to type in a URL
MIN_TOKEN_CHARS = 16


def _event_list(value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ValueError(f"must be a list of event names ({', '.join(EVENTS)}) or 'all'")
    problems = []
    for item in value:
        if not isinstance(item, str):
            problems.append(f"{item!r} is not an event name")
        elif item != ALL and item not in EVENTS:
            problems.append(f"unknown event {item!r}{near_miss(item, [*EVENTS, ALL])}")
    if problems:
        raise ValueError("; ".join(problems) + f" (events: {', '.join(EVENTS)}, or 'all')")
    return list(EVENTS) if ALL in value else list(dict.fromkeys(value))


def _url(value: Any) -> Any:
    if not isinstance(value, str) or "://" not in value:
        raise ValueError("must be a notification URL such as json://host:port/path, "
                         "mailto://user:password@host?to=you@example.org or ntfy://topic")
    import apprise  # only when a file is read: the command line starts without it

    if apprise.Apprise.instantiate(value, suppress_exceptions=True) is None:
        scheme = value.split("://", 1)[0]
        raise ValueError(f"apprise cannot use this URL (scheme {scheme!r}, or its host, "
                         "user or options are wrong); see https://github.com/caronc/apprise/wiki")
    return value


def _token(value: Any) -> Any:
    if not isinstance(value, str) or len(value) < MIN_TOKEN_CHARS or \
            not all(c.isalnum() or c in "-_." for c in value):
        raise ValueError(f"must be at least {MIN_TOKEN_CHARS} letters, digits, '-', '_' or '.'")
    return value


EventList = Annotated[list[str], BeforeValidator(_event_list)]
TargetURL = Annotated[str, BeforeValidator(_url)]
Token = Annotated[str, BeforeValidator(_token)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    url: TargetURL
    name: Name | None = None
    events: EventList = Field(default_factory=lambda: list(EVENTS))

    @property
    def label(self) -> str:
        """How the log names it: its name, else its scheme and host (never a password)."""
        if self.name:
            return self.name
        scheme, rest = self.url.split("://", 1)
        host = rest.split("@")[-1].split("/")[0].split("?")[0]
        return f"{scheme}://{host}"


class RateLimit(_Strict):
    """At most ``max_per_window`` notifications of one event kind to one target per window;
    the ones held back are counted in the next that goes out."""

    window_s: Annotated[Number, Field(ge=1, le=86400)] = 900.0
    max_per_window: Annotated[WholeNumber, Field(ge=1, le=1000)] = 3


class Retry(_Strict):
    """A notification a target did not take is tried again after first_delay_s, then twice as
    long each time, at most ``attempts`` times in all."""

    attempts: Annotated[WholeNumber, Field(ge=1, le=20)] = 5
    first_delay_s: Annotated[Number, Field(ge=0.1, le=3600)] = 10.0


class NotifyConfig(_Strict):
    targets: Annotated[list[Target], Field(min_length=1, max_length=50)]
    stall_after_s: Annotated[Number, Field(ge=10, le=86400)] = 600.0
    rate_limit: RateLimit = RateLimit()
    retry: Retry = Retry()
    access_token: Token | None = None

    def targets_for(self, event: str) -> list[Target]:
        return [t for t in self.targets if event in t.events]


def load_notifications(path: str | Path) -> NotifyConfig:
    """Read and check a notifications file; InputError naming the key on any problem."""
    data, _ = read_yaml_mapping(path)
    try:
        return NotifyConfig.model_validate(data)
    except ValidationError as exc:
        raise InputError(str(path), validation_problems(exc, model=NotifyConfig)) from None


def token_from_env() -> str | None:
    """The access token of ``CRYOLAB_MONITOR_TOKEN``; InputError if it is set but too weak."""
    value = os.environ.get(TOKEN_ENV)
    if not value:
        return None
    try:
        return _token(value)
    except ValueError as exc:
        raise InputError(TOKEN_ENV, [f"the access token {exc}"]) from None
