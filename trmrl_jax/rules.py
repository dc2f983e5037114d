"""What a configuration value may be: a ``Rule`` per field (``config.RULES``), built from the
checks here, each able to say in words which values it allows."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable


class ConfigError(ValueError):
    """A configuration value is not allowed; the message names it and what is allowed."""


@dataclasses.dataclass(frozen=True)
class Rule:
    """The values one field allows: ``check`` decides, ``allowed`` says which in words (a string,
    or a function giving one, for sets known only at run time such as the registered envs)."""

    check: Callable[[Any], bool]
    allowed: str | Callable[[], str]

    def describe(self) -> str:
        return self.allowed if isinstance(self.allowed, str) else self.allowed()


def integer(low: int, high: int | None = None) -> Rule:
    def check(v: Any) -> bool:
        return (isinstance(v, int) and not isinstance(v, bool) and v >= low
                and (high is None or v <= high))

    return Rule(check, f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]")


def number(low: float, high: float = math.inf, *, low_open: bool = False,
            high_open: bool = False) -> Rule:
    """A finite int or float in an interval; ``nan`` and ``inf`` are never allowed."""

    def check(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
        return (v > low if low_open else v >= low) and (v < high if high_open else v <= high)

    if high == math.inf:
        return Rule(check, f"a finite number {'>' if low_open else '>='} {low:g}")
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    return Rule(check, f"a number in {interval}")


def one_of(values: tuple[str, ...]) -> Rule:
    return Rule(lambda v: isinstance(v, str) and v in values, "one of " + ", ".join(values))


def address(v: Any) -> bool:
    """'' or host:port with a port in [1, 65535]."""
    if not isinstance(v, str):
        return False
    host, _, port = v.rpartition(":")
    return v == "" or (bool(host) and not any(c.isspace() for c in v) and port.isdigit()
                       and 1 <= int(port) <= 65535)
