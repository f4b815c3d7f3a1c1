"""Helpers for the partner canary tests: what counts as personal, and finding it in text."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

__all__ = ["leaks", "personal_values"]


def personal_values(node: Any, personal_keys: Collection[str], key: str | None = None) -> set[str]:
    """Every string under a personal key of a partner message, plus compact forms."""
    found: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            found |= personal_values(v, personal_keys, k)
    elif isinstance(node, list):
        for item in node:
            found |= personal_values(item, personal_keys, key)
    elif isinstance(node, str) and key in personal_keys:
        found |= {node, node.replace(" ", "")}
    return found


def leaks(text: str, secrets: Collection[str]) -> list[str]:
    """Secrets found in ``text`` as whole words (tokens and ciphertext are base64url)."""
    edge = r"[A-Za-z0-9_-]"
    return [
        s
        for s in secrets
        if re.search(rf"(?<!{edge}){re.escape(s)}(?!{edge})", text, re.IGNORECASE)
    ]
