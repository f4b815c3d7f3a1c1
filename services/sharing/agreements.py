"""Data-sharing agreements kept as configuration, and their loader.

The agreement decides a sealed field's audiences. Nothing else in asbx hard-codes who may read
what, so changing the file changes who can open *new* events; events already published keep the
audiences they were sealed for (re-sharing old data is a new disclosure, decided by people).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from contracts.vocab import Audience, LawfulBasis, Partner, Purpose

__all__ = [
    "DEFAULT_AGREEMENTS",
    "Agreement",
    "AgreementFile",
    "AgreementSet",
    "UnknownDataClassError",
    "load",
]

DEFAULT_AGREEMENTS = Path(__file__).resolve().parents[2] / "deploy" / "config" / "agreements.yaml"


class UnknownDataClassError(KeyError):
    """A normaliser tried to seal a data class its partner's agreement does not cover."""


class Agreement(BaseModel):
    """One partner's agreement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    version: int = Field(ge=1)
    purpose: Purpose
    lawful_basis: LawfulBasis
    retention: str
    data_classes: dict[str, tuple[Audience, ...]]

    @property
    def ref(self) -> str:
        """``id@version``, as recorded on every event sealed under it."""
        return f"{self.id}@{self.version}"

    def audiences(self, data_class: str) -> tuple[Audience, ...]:
        """Who may open fields of ``data_class``; an unlisted class is a configuration error."""
        try:
            return self.data_classes[data_class]
        except KeyError:
            raise UnknownDataClassError(
                f"agreement {self.ref} does not cover data class {data_class!r}"
            ) from None


class AgreementSet(BaseModel):
    """Every partner's agreement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agreements: dict[Partner, Agreement]

    def for_partner(self, partner: Partner) -> Agreement:
        """The agreement a partner's data is shared under."""
        return self.agreements[partner]


def load(path: Path | None = None) -> AgreementSet:
    """Read and validate agreements (``ASBX_AGREEMENTS_FILE`` or the repository default)."""
    chosen = path or Path(os.environ.get("ASBX_AGREEMENTS_FILE", DEFAULT_AGREEMENTS))
    return AgreementSet.model_validate(yaml.safe_load(chosen.read_text()))


class AgreementFile:
    """Agreements from one file, re-read only when the file changes.

    Services call it for every message: a changed agreement applies to the next event without a
    restart, and an unchanged file costs one ``stat``.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._path = path or Path(os.environ.get("ASBX_AGREEMENTS_FILE", DEFAULT_AGREEMENTS))
        self._stamp: tuple[int, int] | None = None
        self._current: AgreementSet | None = None

    def __call__(self) -> AgreementSet:
        """The agreements in force now."""
        stat = self._path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if self._current is None or stamp != self._stamp:
            self._current, self._stamp = load(self._path), stamp
        return self._current
