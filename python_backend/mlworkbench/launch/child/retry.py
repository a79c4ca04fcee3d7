"""Retries for MLflow writes that SQLite refuses with "database is locked".

Several runs (and the editor listing them) share one SQLite file. SQLite serialises writers
and gives up after its busy timeout, which MLflow turns into an exception; waiting a little
and trying again is the documented remedy. The busy state is recognised by SQLite's own error
code on the exception chain, never by message text.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# SQLITE_BUSY and SQLITE_LOCKED (the sqlite3 module names them only from Python 3.11 on).
_BUSY_CODES = frozenset({5, 6})
ATTEMPTS = 8
FIRST_DELAY_S = 0.05
MAX_DELAY_S = 2.0


def is_sqlite_busy(error: BaseException) -> bool:
    """True when `error` or anything it was raised from is SQLite's BUSY/LOCKED.

    MLflow wraps SQLAlchemy's OperationalError, which wraps sqlite3's; the code lives on the
    innermost one (`sqlite_errorcode`, possibly an extended code such as SQLITE_BUSY_SNAPSHOT).
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for candidate in (current, getattr(current, "orig", None)):
            code = getattr(candidate, "sqlite_errorcode", None)
            if isinstance(code, int) and code & 0xFF in _BUSY_CODES:
                return True
        current = current.__cause__ or current.__context__
    return False


def call_with_retry(action: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """Run `action`, retrying with jittered exponential backoff while SQLite is busy."""
    delay = FIRST_DELAY_S
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as error:
            if attempt == attempts or not is_sqlite_busy(error):
                raise
        # Jitter keeps two runs that collided once from colliding again in lockstep.
        time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - not for security
        delay = min(delay * 2, MAX_DELAY_S)
    raise AssertionError("unreachable")
