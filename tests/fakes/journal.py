"""The order in which fakes were written to, and faults to inject into them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Journal:
    """(port, operation) of every write, in order."""

    entries: list[tuple[str, str]] = field(default_factory=list)

    def add(self, port: str, operation: str) -> None:
        self.entries.append((port, operation))

    def of(self, port: str) -> list[str]:
        return [op for p, op in self.entries if p == port]

    def ports(self) -> list[str]:
        """The ports in the order they were written, consecutive repeats folded."""
        out: list[str] = []
        for port, _ in self.entries:
            if not out or out[-1] != port:
                out.append(port)
        return out

    def clear(self) -> None:
        self.entries.clear()


class Faults:
    """Exceptions to raise from the next calls of named operations."""

    def __init__(self) -> None:
        self._pending: dict[str, list[Callable[[], BaseException]]] = {}

    def fail(self, operation: str, error: Callable[[], BaseException], times: int = 1) -> None:
        self._pending.setdefault(operation, []).extend([error] * times)

    def check(self, operation: str) -> None:
        queue = self._pending.get(operation)
        if queue:
            raise queue.pop(0)()

    def pending(self, operation: str) -> int:
        return len(self._pending.get(operation, []))
