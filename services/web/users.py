"""Who may log in: users and roles from configuration, passwords generated and scrypt-hashed.

Users and roles are configuration (``deploy/config/web_users.yaml``) so that IG can review who
holds which role in the repository's history; passwords are not. For local use a random password
per user is generated at first start into ``<state>/local-passwords.txt`` (mode 0600, for the
operator to hand out) and only its scrypt hash is used to log in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml

from contracts.vocab import Audience

__all__ = ["Role", "User", "UserDirectory", "hash_password", "password_matches"]

PASSWORDS_FILE = "local-passwords.txt"
HASHES_FILE = "password-hashes.json"
# scrypt at n=2**14, r=8, p=1: the interactive-login parameters recommended for scrypt.
_N, _R, _P = 2**14, 8, 1


class Role(StrEnum):
    """What a user may see."""

    IG_OFFICER = "ig_officer"
    LEAD_OFFICER = "lead_officer"
    ADMIN = "admin"


@dataclass(frozen=True)
class User:
    """A person who may log in; a lead officer reads sealed fields as ``audience``."""

    name: str
    role: Role
    audience: Audience | None = None


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64) of ``password``."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def password_matches(password: str, stored: str) -> bool:
    """Whether ``password`` hashes to ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=len(base64.b64decode(digest)),
    )
    return hmac.compare_digest(got, base64.b64decode(digest))


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


class UserDirectory:
    """The configured users and their password hashes."""

    def __init__(self, users: dict[str, User], hashes: dict[str, str]) -> None:
        self._users = users
        self._hashes = hashes

    @classmethod
    def load(cls, users_file: Path, state_dir: Path) -> UserDirectory:
        """Read the users; generate a password for any user without one (first start)."""
        doc = yaml.safe_load(users_file.read_text(encoding="utf-8")) or {}
        users: dict[str, User] = {}
        for entry in doc.get("users", []):
            role = Role(entry["role"])
            audience = Audience(entry["audience"]) if entry.get("audience") else None
            if role is Role.LEAD_OFFICER and audience is None:
                raise ValueError(f"{users_file}: lead officer {entry['name']} needs an audience")
            users[entry["name"]] = User(entry["name"], role, audience)
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        hashes_path = state_dir / HASHES_FILE
        hashes: dict[str, str] = (
            json.loads(hashes_path.read_text(encoding="utf-8")) if hashes_path.exists() else {}
        )
        new = {name: secrets.token_urlsafe(12) for name in users if name not in hashes}
        if new:
            hashes.update({name: hash_password(pw) for name, pw in new.items()})
            _write_private(hashes_path, json.dumps(hashes, indent=2))
            listing = state_dir / PASSWORDS_FILE
            old = listing.read_text(encoding="utf-8") if listing.exists() else ""
            lines = "".join(f"{name}\t{users[name].role.value}\t{pw}\n" for name, pw in new.items())
            _write_private(listing, old + lines)
        return cls(users, hashes)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user, if the name is configured and the password is right."""
        user, stored = self._users.get(name), self._hashes.get(name)
        if user is None or stored is None:
            hash_password(password)  # same work whether or not the name exists
            return None
        return user if password_matches(password, stored) else None

    def get(self, name: str) -> User | None:
        """A configured user by name."""
        return self._users.get(name)
