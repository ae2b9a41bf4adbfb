"""What one caller may spend reading a PDS: a deadline on a clock and a number of calls.

Any account can run its own PDS, so every read of one is bounded by its caller's budget: a
listing checks it before each page, an indexing run before each write. The clock is injected
(tests advance it by hand; production uses time.monotonic)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass
class ReadBudget:
    """`seconds` from its creation on `clock` (None: no deadline) and `calls` PDS requests
    (None: any number). Once spent it stays spent, and says why. A part of a budget (`share`)
    is spent when its whole is."""

    seconds: float | None = None
    calls: int | None = None
    clock: Clock = time.monotonic
    parent: ReadBudget | None = field(default=None, repr=False)
    started: float = field(init=False)
    calls_made: int = field(init=False, default=0)
    spent: str | None = field(init=False, default=None)  # "deadline" or "calls" once spent

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def deadline(self) -> float | None:
        return None if self.seconds is None else self.started + self.seconds

    def remaining(self) -> float | None:
        """Seconds left (never below 0), None without a deadline."""
        own = None if self.deadline is None else max(0.0, self.deadline - self.clock())
        above = self.parent.remaining() if self.parent is not None else None
        if own is None or above is None:
            return own if above is None else above
        return min(own, above)

    def in_time(self) -> bool:
        """False once the deadline (its own or its whole's) has passed; calls do not count here."""
        if self.spent != "deadline" and self.deadline is not None and self.clock() >= self.deadline:
            self.spent = "deadline"
        if self.spent != "deadline" and self.parent is not None and not self.parent.in_time():
            self.spent = "deadline"
        return self.spent != "deadline"

    def take_call(self) -> bool:
        """One more PDS request, when the budget has one left and its deadline has not passed."""
        if not self.in_time():
            return False
        if self.calls is not None and self.calls_made >= self.calls:
            self.spent = "calls"
            return False
        if self.parent is not None and not self.parent.take_call():
            self.spent = self.parent.spent
            return False
        self.calls_made += 1
        return True

    def share(self, fraction: float) -> ReadBudget:
        """A part for the first `fraction` of the time left (a listing that must leave time for
        the writes after it); its calls count in the whole too."""
        remaining = self.remaining()
        return ReadBudget(None if remaining is None else remaining * fraction, None, self.clock, self)
