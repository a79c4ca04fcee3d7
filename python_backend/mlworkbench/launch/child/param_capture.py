"""Capture the command-line values a script actually parsed, with argparse or click.

Static analysis knows which options a script declares; only the parse knows what this run
used (defaults included). The values are kept here and written to a side file as soon as they
are parsed, so the launcher can still log them if this process is killed before its own
`finally`. They are logged as params only after the script ends (see bootstrap), because the
script may log a param of the same name itself and MLflow refuses to change a param's value.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MAX_VALUE_CHARS = 6000  # MLflow's limit on a param value


class ParamCapture:
    """Patches argparse (and click, when installed) for the lifetime of the process."""

    def __init__(self, side_file: Path) -> None:
        self.values: dict[str, str] = {}
        self._side_file = side_file
        self._patch_argparse()
        self._patch_click()

    def record(self, parsed: Mapping[str, Any]) -> None:
        for name, value in parsed.items():
            if callable(value) or name.startswith("_"):
                continue  # set_defaults(func=train) and private helpers are not settings
            self.values[str(name)] = str(value)[:MAX_VALUE_CHARS]
        tmp = self._side_file.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(self.values))
            os.replace(tmp, self._side_file)
        except OSError:
            pass  # the side file is a fallback; the in-memory values still get logged

    def _patch_argparse(self) -> None:
        """Record after a parse of the real command line succeeded.

        parse_args() calls parse_known_args() and only then rejects leftover words, so a
        parse inside parse_args() is recorded when parse_args() returns, not before: a run
        that failed with "unrecognized arguments" did not use those values.
        """
        import argparse

        original_known = argparse.ArgumentParser.parse_known_args
        original_args = argparse.ArgumentParser.parse_args
        capture = self
        inside = [0]  # parse_args() calls in progress (nested parsers are its business)

        def from_command_line(args: Any) -> bool:
            # A script may also parse fixed lists (tests, config helpers): not this run's.
            return args is None or list(args) == sys.argv[1:]

        def parse_known_args(
            self: argparse.ArgumentParser, args: Any = None, namespace: Any = None
        ) -> Any:
            result = original_known(self, args, namespace)
            if not inside[0] and from_command_line(args):
                capture.record(vars(result[0]))
            return result

        def parse_args(
            self: argparse.ArgumentParser, args: Any = None, namespace: Any = None
        ) -> Any:
            inside[0] += 1
            try:
                result = original_args(self, args, namespace)
            finally:
                inside[0] -= 1
            if from_command_line(args):
                capture.record(vars(result))
            return result

        argparse.ArgumentParser.parse_known_args = parse_known_args  # type: ignore[method-assign]
        argparse.ArgumentParser.parse_args = parse_args  # type: ignore[method-assign]

    def _patch_click(self) -> None:
        try:
            import click
        except ImportError:
            return
        original = click.Command.invoke
        capture = self

        def invoke(self: click.Command, ctx: click.Context) -> Any:
            # Groups invoke their own callback through Command.invoke too, so a group's options
            # and its subcommand's options are both seen.
            capture.record(ctx.params)
            return original(self, ctx)

        click.Command.invoke = invoke  # type: ignore[method-assign]
