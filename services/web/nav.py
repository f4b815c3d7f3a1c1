"""The sections of the web UI: one line each, naming the router, the roles and the nav links.

To add a section (e.g. the case view), write an ``APIRouter(prefix=...)`` whose routes depend on
``require(...)`` (:mod:`services.web.auth`) and render with :func:`services.web.pages.render`,
then add one :class:`Section` line to :data:`SECTIONS`, e.g.::

    Section(cases_router, CASE_ROLES, (("Case view", "/cases"),)),

The service navigation shows a section's links only to the roles that may open it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from services.web.case.figures import router as figures_router
from services.web.case.routes import router as case_router
from services.web.ig.routes import router as ig_router
from services.web.users import Role

__all__ = ["CASE_ROLES", "IG_ROLES", "SECTIONS", "Section"]

IG_ROLES = frozenset({Role.IG_OFFICER, Role.ADMIN})
CASE_ROLES = frozenset({Role.LEAD_OFFICER, Role.ADMIN})


@dataclass(frozen=True)
class Section:
    """A router, who may use it, and its (label, path) entries in the service navigation."""

    router: APIRouter
    roles: frozenset[Role]
    links: tuple[tuple[str, str], ...]


SECTIONS: tuple[Section, ...] = (
    Section(
        ig_router,
        IG_ROLES,
        (
            ("Exchanges", "/ig"),
            ("Disclosures", "/ig/disclosures"),
            ("Alerts", "/ig/alerts"),
            ("Verify", "/ig/verify"),
            ("Reports", "/ig/reports"),
        ),
    ),
    Section(case_router, CASE_ROLES, (("Cases", "/cases"),)),
    Section(figures_router, CASE_ROLES | IG_ROLES, (("Case review figures", "/figures"),)),
)
