"""What the workspace tracking server's own routes share: reading a request's body, writing
an answer (compared_route.py, first_page_route.py, store_route.py).

Why one place: each route takes a body from the network (behind the gate's token) and must
refuse anything that is not exactly what it reads with a 400 that names the field, before
anything connects to the store; the checks of a list of ids, or a count, are the same for all.
Answers are JSON with NaN and the infinities as Python's `json` writes them: both ends are
this package.
"""

from __future__ import annotations

import json
from typing import Any, TypeGuard

MAX_TEXT = 1_000  # a run id or metric key longer than this is no MLflow's (250 for keys)


class BadRequest(ValueError):
    """The request's body is not one the route reads (the gate answers 400 with this text)."""


def json_object(body: bytes, fields: str) -> dict[str, Any]:
    """The body's JSON object; BadRequest when it is not JSON or not an object (`fields`
    names what the object must hold, for the message)."""
    try:
        asked = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"the body is not JSON: {error}") from None
    if not isinstance(asked, dict):
        raise BadRequest(f"the body must be an object with {fields}")
    return asked


def texts(value: object) -> TypeGuard[list[str]]:
    """Whether `value` is a list of non-blank strings of at most MAX_TEXT characters."""
    return isinstance(value, list) and all(
        isinstance(item, str) and 0 < len(item) <= MAX_TEXT and item.strip() for item in value
    )


def count(value: object) -> TypeGuard[int]:
    """Whether `value` is a JSON integer (not a boolean, which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def answer(value: object) -> bytes:
    """An answer's body: compact JSON."""
    return json.dumps(value, separators=(",", ":")).encode()


def refusal(status: int, message: str) -> tuple[int, bytes]:
    """(status, body) of an answer that is an error the client reads as `{"error": ...}`."""
    return status, answer({"error": message})
