"""What values an option takes, declared beside the option in the constructor that owns it.

    def __init__(self, width: Count = 256, dropout: Fraction = 0.0, lr: Positive = 1e-3): ...

A `Range` (or a `Rule` for what is not a number) goes into `typing.Annotated` with the option's type;
zoo.options reads both when it checks a config, so a family's options are checked by the family's own
code and by nothing else. For a list, a Range holds for each item (`NON_EMPTY` asks for at least one).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated


def is_number(value) -> bool:
    """A finite int or float (a bool is not a number here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _shown(bound: float) -> str:
    if isinstance(bound, float) and not bound.is_integer():
        return f"{bound:g}"
    if abs(bound) >= 1e15:
        return f"{bound:.3g}"
    bound = int(bound)
    if bound >= 10**4 and math.log10(bound).is_integer():
        return f"10^{int(math.log10(bound))}"
    if bound >= 2**16 and ((bound + 1) & bound) == 0:
        return f"2^{(bound + 1).bit_length() - 1} - 1"
    return str(bound)


@dataclass(frozen=True)
class Range:
    """low <= value <= high (either end open or absent); `also` lists other values that pass (-1: no limit)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    also: tuple = ()
    note: str = ""  # what the value means, when the range alone does not say

    def holds(self, value) -> bool:
        if not is_number(value):
            return False
        if value in self.also and not isinstance(value, bool):
            return True
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def describe(self, integer: bool, plural: bool = False) -> str:
        """What works, as a sentence's end: "an integer from 1 to 10^7" (plural: "integers from 1 to 10^7")."""
        low, high, low_open, high_open = self.low, self.high, self.low_open, self.high_open
        if integer:  # whole bounds, both ends included
            if low is not None and low_open:
                low, low_open = math.floor(low) + 1, False
            if high is not None and high_open:
                high, high_open = math.ceil(high) - 1, False
        kind = "an integer" if integer else "a number"
        if low is None and high is None:
            text = kind
        elif high is None:
            text = "a positive number" if low == 0 and low_open else f"{kind} {'>' if low_open else '>='} {_shown(low)}"
        elif low is None:
            text = f"{kind} {'<' if high_open else '<='} {_shown(high)}"
        elif integer:
            text = f"an integer from {_shown(low)} to {_shown(high)}"
        else:
            text = f"a number in {'(' if low_open else '['}{_shown(low)}, {_shown(high)}{')' if high_open else ']'}"
        text += "".join(f", or {value}" for value in self.also)
        if plural:
            for one, many in (
                ("an integer", "integers"),
                ("a positive number", "positive numbers"),
                ("a number", "numbers"),
            ):
                text = text.replace(one, many, 1)
        return text + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Rule:
    """Any other test of a value: `accepts(value)`, and what works, as a sentence's end."""

    accepts: Callable[[object], bool]
    works: str

    def holds(self, value) -> bool:
        return bool(self.accepts(value))

    def describe(self, integer: bool, plural: bool = False) -> str:
        return self.works


Count = Annotated[int, Range(1, 10**7)]  # how many of something
NonNegativeCount = Annotated[int, Range(0, 10**7)]
Positive = Annotated[float, Range(0, low_open=True)]
NonNegative = Annotated[float, Range(0)]
Fraction = Annotated[float, Range(0, 1, high_open=True)]  # a share that leaves something over
Probability = Annotated[float, Range(0, 1)]
Seed = Annotated[int, Range(0, 2**32, high_open=True, note="a seed of numpy and torch")]
NON_EMPTY = Rule(lambda v: isinstance(v, (list, tuple)) and len(v) > 0, "a non-empty list, e.g. [32, 64]")
Channels = Annotated[list[int], Range(1, 10**5), NON_EMPTY]  # channels of each block, e.g. [32, 64]
