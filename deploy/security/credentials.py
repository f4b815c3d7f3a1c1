"""SCRAM credentials of the local broker's principals, generated at first run, never committed.

Why a file beside the broker's data: the local broker and every local client must agree on one
password per principal, and nothing secret may live in the repository. The first start writes
``<broker home>/credentials.json`` (owner-only, ``0600``) with a random password per principal;
the broker's storage is formatted with those SCRAM-SHA-512 credentials, and clients read the file
to connect as their own principal. Deleting the broker home deletes both together.

Stdlib only: the local broker runs this before the project's dependencies matter.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

__all__ = ["CREDENTIALS_FILE", "CredentialsError", "ensure_credentials", "read_credentials"]

CREDENTIALS_FILE = "credentials.json"
_PASSWORD_BYTES = 24


class CredentialsError(RuntimeError):
    """The credentials file is missing, unreadable, or lacks the principal asked for."""


def read_credentials(path: Path) -> dict[str, str]:
    """Principal name to password, as written by :func:`ensure_credentials`."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"cannot read broker credentials {path}: {exc}") from exc
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise CredentialsError(f"{path} has no 'users' mapping")
    return {str(name): str(password) for name, password in users.items()}


def ensure_credentials(path: Path, principals: Iterable[str]) -> dict[str, str]:
    """Read ``path``, adding a random password for any principal not in it yet.

    The file is created owner-only from the start (no window in which it is world-readable).
    """
    users = read_credentials(path) if path.exists() else {}
    missing = [name for name in principals if name not in users]
    if not missing and path.exists():
        return users
    for name in missing:
        users[name] = secrets.token_urlsafe(_PASSWORD_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"mechanism": "SCRAM-SHA-512", "users": users}, out, indent=2)
        out.write("\n")
    tmp.replace(path)
    return users
