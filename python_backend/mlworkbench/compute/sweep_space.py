"""A sweep's search space: `--param name=v1,v2,...` checked against the script's own parameters,
and the trials it makes (the grid, or a seeded random sample of it) as command lines.

The names and types come from the script's argparse/click declarations (`ast`, never an
import), so a typo or a value the script's type would refuse fails here, before any run exists.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Sequence
from dataclasses import dataclass

from mlworkbench.analysis.script_parameters import ScriptParameter
from mlworkbench.compute.sweep_errors import InvalidSweepError, UnknownSweepParameterError

SweepValue = int | float | str | bool

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


@dataclass(frozen=True)
class SweptParameter:
    """One swept parameter: its values (typed as the script declares it) and how to pass them."""

    name: str
    values: tuple[SweepValue, ...]
    texts: tuple[str, ...]  # the values as written: what the script gets on its command line
    declared: ScriptParameter

    def arguments(self, position: int) -> list[str]:
        """The command-line words for the value at `position`, in the parameter's own form."""
        value, text = self.values[position], self.texts[position]
        flags = self.declared.flags
        if not flags:
            return [text]  # a positional
        if isinstance(value, bool):
            return _bool_arguments(self.declared, value)
        flag = next((f for f in flags if f.startswith("--")), flags[0])
        # `--lr -0.1` would read as two options to argparse; `--lr=-0.1` is one.
        if text.startswith("-") and flag.startswith("--"):
            return [f"{flag}={text}"]
        return [flag, text]


def _bool_arguments(declared: ScriptParameter, value: bool) -> list[str]:
    """A switch is present or absent: nothing when `value` is already the default, else the
    flag that sets it (click's `--x/--no-x` pair, argparse's BooleanOptionalAction `--no-x`)."""
    default = _literal_bool(declared.default)
    if default == value:
        return []
    flags = declared.flags
    off = [f for f in flags if f.startswith("--no-")]
    on = [f for f in flags if f.startswith("--") and f not in off]
    if off and on:
        return [on[0] if value else off[0]]
    flag = on[0] if on else flags[0]
    if value or default is not None:
        return [flag]  # store_true sets True; store_false (default True) sets False
    return ["--no-" + flag[2:]] if flag.startswith("--") else []  # BooleanOptionalAction


@dataclass(frozen=True)
class Trial:
    """One point of the space: 1-based index, typed values, the script's extra arguments."""

    index: int
    values: dict[str, SweepValue]
    args: list[str]

    def describe(self) -> str:
        return " ".join(f"{name}={value}" for name, value in self.values.items())


@dataclass(frozen=True)
class SweepSpace:
    """The swept parameters in `--param` order; the first varies slowest in the grid."""

    parameters: tuple[SweptParameter, ...]

    @property
    def size(self) -> int:
        size = 1
        for parameter in self.parameters:
            size *= len(parameter.values)
        return size

    def describe(self) -> dict[str, str]:
        """`name -> "v1,v2"` as written: the parent run's record of what was searched."""
        return {p.name: ",".join(p.texts) for p in self.parameters}

    def grid(self) -> list[Trial]:
        """Every combination, in `itertools.product` order."""
        return self._trials(range(self.size))

    def sample(self, count: int, seed: int) -> list[Trial]:
        """`count` distinct combinations drawn with `random.Random(seed)`: the same seed and
        space give the same trials in the same order. Drawn by index, so a huge grid is never
        built in memory."""
        if count < 1:
            raise InvalidSweepError(f"--random must be at least 1, not {count}")
        if count > self.size:
            raise InvalidSweepError(
                f"--random {count} asks for more trials than the {self.size} combinations of "
                "the values given; drop --random to run them all, or add values"
            )
        sampler = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
        return self._trials(sampler.sample(range(self.size), count))

    def _trials(self, points: Sequence[int] | range) -> list[Trial]:
        return [self._trial(number, point) for number, point in enumerate(points, start=1)]

    def _trial(self, number: int, point: int) -> Trial:
        positions: list[int] = []
        for parameter in reversed(self.parameters):  # mixed radix, last parameter fastest
            point, position = divmod(point, len(parameter.values))
            positions.append(position)
        positions.reverse()
        chosen = list(zip(self.parameters, positions, strict=True))
        # Positionals first, in the order the script declares them; options after them.
        ordered = sorted(
            chosen, key=lambda pair: (bool(pair[0].declared.flags), pair[0].declared.line)
        )
        args = [word for parameter, position in ordered for word in parameter.arguments(position)]
        values = {parameter.name: parameter.values[position] for parameter, position in chosen}
        return Trial(index=number, values=values, args=args)


def parse_space(specs: Sequence[str], declared: Sequence[ScriptParameter]) -> SweepSpace:
    """Check each `name=v1,v2,...` against the script's parameters and type its values.

    Raises UnknownSweepParameterError (with the closest declared name) or InvalidSweepError.
    """
    if not specs:
        raise InvalidSweepError("nothing to sweep: give at least one --param NAME=V1,V2,...")
    by_name = {p.name: p for p in declared}
    parameters: list[SweptParameter] = []
    for spec in specs:
        raw_name, equals, raw_values = spec.partition("=")
        name = raw_name.strip().lstrip("-").replace("-", "_")
        if not equals or not name:
            raise InvalidSweepError(
                f"--param {spec!r} is not NAME=V1,V2,...; e.g. --param lr=0.001,0.01"
            )
        parameter = by_name.get(name)
        if parameter is None:
            close = difflib.get_close_matches(name, list(by_name), n=1, cutoff=0.5)
            raise UnknownSweepParameterError(name, list(by_name), close[0] if close else None)
        if any(p.name == name for p in parameters):
            raise InvalidSweepError(f"parameter '{name}' is swept twice; give it once", name)
        texts = tuple(text.strip() for text in raw_values.split(","))
        if any(text == "" for text in texts):
            raise InvalidSweepError(
                f"--param {spec!r} has an empty value; list values as {name}=V1,V2,...", name
            )
        values = tuple(_typed(parameter, text) for text in texts)
        duplicates = sorted({texts[i] for i, v in enumerate(values) if values.index(v) != i})
        if duplicates:
            raise InvalidSweepError(
                f"parameter '{name}' lists {', '.join(duplicates)} more than once", name
            )
        parameters.append(SweptParameter(name, values, texts, parameter))
    return SweepSpace(tuple(parameters))


def _typed(parameter: ScriptParameter, text: str) -> SweepValue:
    """The value as the script's declared type reads it; text when the type is unknown."""
    kind = parameter.type
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "bool":
            return _parse_bool(text)
    except ValueError:
        raise InvalidSweepError(
            f"parameter '{parameter.name}' takes {kind} values, not {text!r}", parameter.name
        ) from None
    if parameter.choices is not None and text not in parameter.choices:
        raise InvalidSweepError(
            f"parameter '{parameter.name}' takes one of {', '.join(parameter.choices)}, "
            f"not {text!r}",
            parameter.name,
        )
    return text


def _literal_bool(source: str | None) -> bool | None:
    """A declared default that is a plain True/False literal, else None (none, or computed)."""
    return {"True": True, "False": False}.get(source or "")


def _parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(text)
