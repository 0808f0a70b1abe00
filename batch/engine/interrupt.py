"""Ctrl-C and SIGTERM during a run (issue 13): stop starting rows, settle, then stop.

A small mechanism beside the runner, not inside it: the first signal calls the runner's
`stop(reason)` (no new row starts; rows already sent keep being polled) and gives the run
`settle` seconds to finish on its own; then, or at a second signal, the run's task is
cancelled. Cancelling is as safe as a crash and gentler: a row whose reference_id was
committed stays SUBMITTING and the next run settles it by status before anything new.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from batch.options import DEFAULT_INTERRUPT_SETTLE

T = TypeVar("T")

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupt:
    """Watches SIGINT/SIGTERM while one coroutine runs; see the module docstring."""

    def __init__(
        self,
        stop: Callable[[str], None],
        *,
        settle: float = DEFAULT_INTERRUPT_SETTLE,  # RunOptions.interrupt_settle
        say: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.stop = stop
        self.settle = settle
        self.say = say
        self.signals: list[str] = []  # names of the signals received, in order
        self._task: asyncio.Task[Any] | None = None

    @property
    def interrupted(self) -> bool:
        """Whether a signal arrived."""
        return bool(self.signals)

    def received(self, name: str) -> None:
        """A signal arrived (also callable directly: tests, other front ends)."""
        self.signals.append(name)
        task = self._task
        if len(self.signals) == 1:
            self.stop(f"interrupted ({name})")
            self.say(
                f"interrupted ({name}): no new payouts start; settling rows in flight for up "
                f"to {self.settle:g} s (again to stop at once, still safely)"
            )
            if task is not None:
                asyncio.get_running_loop().call_later(self.settle, task.cancel)
        elif task is not None:
            task.cancel()

    def __enter__(self) -> Interrupt:
        """Watch the signals (on the running loop) until the block ends."""
        self._loop = asyncio.get_running_loop()
        self._installed: list[signal.Signals] = []
        for sig in SIGNALS:
            try:
                self._loop.add_signal_handler(sig, self.received, sig.name)
                self._installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                pass
        return self

    def __exit__(self, *exc: object) -> None:
        for sig in self._installed:
            self._loop.remove_signal_handler(sig)

    async def run(self, work: Coroutine[Any, Any, T]) -> T | None:
        """Run `work`; None when a signal cut it short (inside the `with` block)."""
        self._task = asyncio.get_running_loop().create_task(work)
        if self.interrupted:  # a signal before the work began: stop it at once
            self.stop(f"interrupted ({self.signals[0]})")
            self._task.cancel()
        await asyncio.wait({self._task})
        if self._task.cancelled():
            return None
        result: T = self._task.result()
        return result
