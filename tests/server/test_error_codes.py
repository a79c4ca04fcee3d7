"""Every error the library raises has its own protocol code, and every code is raised.

A library error whose code is missing from ERROR_CODES reaches the editor as the generic code,
so the extension cannot offer its fix; a code nothing raises is a promise the server does not
keep. Both fail here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import mlworkbench
from mlworkbench.errors import MlWorkbenchError
from mlworkbench_server.protocol import ERROR_CODES

# Raised by the server itself, not by a library error class.
SERVER_CODES = {"UNTRUSTED_WORKSPACE"}
# Files run as scripts or inside a training script's process, never imported by the library.
NOT_IMPORTED = ("mlworkbench.launch.bootstrap", "mlworkbench.monitor.tensorboard_socket")


def _library_error_classes() -> Iterator[type[MlWorkbenchError]]:
    for module in pkgutil.walk_packages(mlworkbench.__path__, "mlworkbench."):
        if not module.name.startswith(NOT_IMPORTED):
            importlib.import_module(module.name)
    pending = list(MlWorkbenchError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        yield cls


def test_every_library_error_has_its_own_code_in_the_table() -> None:
    missing = {
        cls.__name__: cls.code
        for cls in _library_error_classes()
        if cls.code not in ERROR_CODES and cls.__module__.startswith("mlworkbench.")
    }
    assert missing == {}


def test_every_code_in_the_table_is_raised_by_something() -> None:
    raised = {cls.code for cls in _library_error_classes()} | SERVER_CODES
    assert set(ERROR_CODES) - raised == set()


def test_codes_are_unique_and_outside_json_rpcs_reserved_range() -> None:
    values = list(ERROR_CODES.values())
    assert len(values) == len(set(values))
    assert all(not -32768 <= value <= -32000 for value in values)
