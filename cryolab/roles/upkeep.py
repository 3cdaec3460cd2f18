"""What every role adapter does with its driver's connection, whatever the role."""

from __future__ import annotations

from typing import Any


class DriverUpkeep:
    """Identify, reconnect, confirm writes and close: the same for a lock-in, a bridge and a
    magnet supply (``self.driver`` is a pymeasure ``Instrument``)."""

    name: str
    driver: Any

    def identify(self) -> str:
        return str(self.driver.id)

    def reconnect(self) -> None:
        self.driver.reconnect()

    def confirm(self) -> None:
        from instruments.adapter import ConfirmingAdapter  # pyvisa: not for validation alone

        adapter = self.driver.adapter
        if isinstance(adapter, ConfirmingAdapter):
            adapter.confirm()

    def close(self) -> None:
        self.driver.adapter.close()
