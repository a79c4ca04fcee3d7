"""Who may use a model server: its bearer token, and the Host names it answers to.

Any local user can connect to a port on 127.0.0.1, and a web page the user opens can reach it
through a host name that resolves there (DNS rebinding). So by default `/invocations` and
`/version` need a per-server token (256 random bits), kept in a 0600 file inside a private
`mkdtemp` folder or read from the user's own `--token-file`, and a loopback server answers only
requests whose Host header names it (`127.0.0.1:PORT`, `localhost:PORT`). `/ping` and `/health`
stay open for probes (they say only "up").
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import stat
from pathlib import Path

TOKEN_BYTES = 32  # 256 bits
MIN_TOKEN_CHARS = 16
TOKEN_FILE_NAME = "token"  # noqa: S105 (a file name, not a password)


class TokenFileError(ValueError):
    """A `--token-file` that cannot be used (the CLI prints it as a usage error)."""


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def write_token_file(token: str, private_folder: Path) -> Path:
    """The token in `<private_folder>/token` (a folder from `private_temp_dir`, 0700), mode
    0600, created exclusively."""
    path = private_folder / TOKEN_FILE_NAME
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return path


def read_token_file(path: Path) -> tuple[str, str | None]:
    """The token in `path` (its first line) and a warning when other users can read the file
    (anyone, or a group this process is not in).

    `TokenFileError` when it is missing, unreadable, empty or too short to be a secret.
    """
    try:
        text = path.read_text(encoding="utf-8")
        status = path.stat()
    except (OSError, UnicodeDecodeError) as error:
        raise TokenFileError(f"cannot read token file {path}: {error}") from None
    lines = text.strip().splitlines()
    token = lines[0].strip() if lines else ""
    if len(token) < MIN_TOKEN_CHARS:
        raise TokenFileError(
            f"token file {path} holds no token of at least {MIN_TOKEN_CHARS} characters; "
            "write one there, e.g. with: python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))' > FILE"
        )
    if any(character.isspace() for character in token):
        raise TokenFileError(f"the token in {path} contains spaces; use one word")
    # A group read bit is fine for a group this process is in (a Kubernetes Secret mounted
    # with the pod's fsGroup, mode 0440; the editor's token file, whose group it adds to the
    # container's process); any other group, or everyone, can read the secret.
    own_groups = {os.getgid(), os.getegid(), *os.getgroups()}
    foreign_group = bool(status.st_mode & stat.S_IRGRP) and status.st_gid not in own_groups
    warning = None
    if foreign_group or status.st_mode & stat.S_IROTH:
        warning = f"token file {path} is readable by other users (chmod 600 it)"
    return token, warning


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, port: int) -> frozenset[str] | None:
    """The Host header values a loopback server answers to; None (any) for another bind, where
    the names clients use are not known here and the token is the guard."""
    if not is_loopback(host):
        return None
    names = {f"127.0.0.1:{port}", f"localhost:{port}"}
    bound = host.strip("[]")
    if ":" in bound:
        names.add(f"[{bound}]:{port}")
    else:
        names.add(f"{bound}:{port}")
    return frozenset(names)


def bearer_matches(header: bytes | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    if header is None:
        return False
    scheme, _, value = header.partition(b" ")
    if scheme.lower() != b"bearer":
        return False
    return hmac.compare_digest(value.strip(), token.encode())
