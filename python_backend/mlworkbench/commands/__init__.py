"""The CLI's subcommands: each module exports its `COMMAND` (`monitor` two siblings, `UI_COMMAND`
and `TENSORBOARD_COMMAND`), and cli.py lists them.

A new stage of the lifecycle (`run`, `runs`, `models`, …) is a new module here plus one line in
cli.py; command modules import only the standard library at top so `mlworkbench --help` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Subcommand:
    """How cli.py wires one subcommand: its name, one-line help, arguments and action."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
