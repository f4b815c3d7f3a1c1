"""The cuckooing scenario: every partner's example messages, in the order things happened.

Examples live beside each partner's format (``services/partners/<partner>/examples``), named
``NN-what.json`` or ``.xml``; the number orders the whole scenario across partners. The demo also
sends a few malformed messages from ``examples/bad`` to show what a partner sees when asbx
refuses its input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from contracts.vocab import Partner

__all__ = ["PARTNERS_DIR", "ScenarioMessage", "bad_examples", "scenario"]

PARTNERS_DIR = Path(__file__).resolve().parents[1] / "partners"
_NUMBERED = re.compile(r"^(\d{2})-.+\.(json|xml)$")
_CONTENT_TYPES = {
    (Partner.HEALTH, ".json"): "application/fhir+json",
    (Partner.HEALTH, ".xml"): "application/fhir+xml",
}


@dataclass(frozen=True)
class ScenarioMessage:
    """One partner message to publish."""

    partner: Partner
    path: Path
    content_type: str
    value: bytes

    @property
    def label(self) -> str:
        """Short name for display."""
        return self.path.name


def _message(partner: Partner, path: Path) -> ScenarioMessage:
    content_type = _CONTENT_TYPES.get((partner, path.suffix), "application/json")
    return ScenarioMessage(partner, path, content_type, path.read_bytes())


def scenario(partners_dir: Path = PARTNERS_DIR) -> list[ScenarioMessage]:
    """Every numbered example of every partner, in scenario order."""
    found: list[tuple[int, str, ScenarioMessage]] = []
    for partner in Partner:
        for path in sorted((partners_dir / partner.value / "examples").glob("*")):
            match = _NUMBERED.match(path.name)
            if match:
                found.append((int(match.group(1)), partner.value, _message(partner, path)))
    return [message for _, _, message in sorted(found, key=lambda item: item[:2])]


def bad_examples(partners_dir: Path = PARTNERS_DIR) -> list[ScenarioMessage]:
    """The malformed examples, one list across partners."""
    return [
        _message(partner, path)
        for partner in Partner
        for path in sorted((partners_dir / partner.value / "examples" / "bad").glob("*"))
        if path.is_file()
    ]
