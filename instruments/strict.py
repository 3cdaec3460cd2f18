"""Replies that must be numbers are numbers: a garbled reply raises instead of passing through.

pymeasure's ``values()`` keeps any element it cannot cast as a string ("a list of the desired
type, or strings where the casting fails"), so a property declared as a float can hand back
``'+000.0\\x15#?'`` from a noisy line. cryolab's drivers and channels use this mixin, which turns
that into a ValueError naming the command, so the fault guard sees a garbled reply and retries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # what the mixin is combined with (Instrument or Channel); untyped, so ``super().values`` is
    # checked as pymeasure's. At run time the mixin derives from object and the MRO is unchanged.
    from pymeasure.instruments.common_base import CommonBase as _Base
else:
    _Base = object


class StrictValuesMixin(_Base):
    def values(self, command, separator=",", cast=float, preprocess_reply=None, maxsplit=-1,
               **kwargs):
        results = super().values(command, separator, cast, preprocess_reply, maxsplit, **kwargs)
        if cast is not str:
            for value in results:
                if isinstance(value, str):
                    raise ValueError(f"reply to {command!r} is not a number: {value!r}")
        return results
