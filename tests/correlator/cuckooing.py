"""The cuckooing scenario as canonical events, mirroring the partners' example messages.

Bethany Marsh (learning-disability flag from 20 February) reports visitors Jordan Pike and Tyler
Voss taking over her flat: to housing on 8 March, to police and housing about the same night of
1 April, to police on 20 May and 9 June. Both men get community protection warnings on 25 May;
Jordan is back at her flat on 9 June and Tyler turns up at another address on 14 June.
"""

from __future__ import annotations

from datetime import date

from contracts.envelope import CanonicalEvent
from contracts.vocab import AsbCategory, InterventionType, Partner, RiskLevel
from tests.correlator.builders import Who, flag, incident, intervention, place

BETH_DOB, JORDAN_DOB, TYLER_DOB = date(1989, 4, 17), date(1998, 2, 3), date(2000, 9, 12)
BETHANY_HOUSING = Who("Bethany", "Marsh", BETH_DOB, housing_ref="HP-004512")
BETHANY_POLICE = Who("Bethany", "Marsh", BETH_DOB, police_id="PP-77120")
BETHANY_HEALTH = Who("Bethany", "Marsh", BETH_DOB, nhs="9434765919")
JORDAN_POLICE = Who("Jordan", "Pike", JORDAN_DOB, police_id="PP-80311")
JORDAN_HOUSING = Who("Jordan", "Pike", JORDAN_DOB)
TYLER_POLICE = Who("Tyler", "Voss", TYLER_DOB, police_id="PP-80422")
TYLER_HOUSING = Who("Tyler", "Voss", TYLER_DOB)
IRENE = Who("Irene", "Cole", police_id="PP-81005")
SAMIR = Who("Samir", "Haddad", police_id="PP-81244")
DAWN = Who("Dawn", "Fletcher", date(1971, 8, 23), police_id="PP-81530")

FLAT_4 = place("100023456789", "FLAT 4 LARKSPUR COURT 18 TANNERY LANE MILLBROOK MB47QT", "MB4 7QT")
COURT = place(None, "LARKSPUR COURT 18 TANNERY LANE MILLBROOK MB47QT", "MB4 7QT")
COOPER_ST = place("100023460001", "FLAT 1 7 COOPER STREET MILLBROOK MB46RD", "MB4 6RD")

PERSONAL, NUISANCE = AsbCategory.PERSONAL, AsbCategory.NUISANCE
POLICE, HOUSING = Partner.POLICE, Partner.HOUSING
CPW = InterventionType.COMMUNITY_PROTECTION_WARNING
RELATED = ("MSP-INC-2026-004417", "MSP-INC-2026-006102", "MSP-INC-2026-010233")


def events() -> list[CanonicalEvent]:
    """Every event of the scenario, in the order things happened."""
    pair_p, pair_h = (JORDAN_POLICE, TYLER_POLICE), (JORDAN_HOUSING, TYLER_HOUSING)
    return [
        *flag("MGP-FLAG-40117-LD", BETHANY_HEALTH, date(2026, 2, 20)),
        incident("MSP-INC-2026-004417", POLICE, "2026-03-02T23:40Z", "2026-03-03T00:15Z",
                 victims=[IRENE], perpetrators=pair_p, category=NUISANCE, where=FLAT_4,
                 risk=RiskLevel.STANDARD),
        incident("ASB-2026-0042-R01", HOUSING, "2026-03-08T21:00Z", "2026-03-10T10:30Z",
                 victims=[BETHANY_HOUSING], perpetrators=pair_h, where=FLAT_4),
        intervention("ASB-2026-0042-A01", InterventionType.WARNING_LETTER, JORDAN_HOUSING,
                     date(2026, 3, 20), agency=HOUSING, related=["ASB-2026-0042-R01"]),
        incident("MSP-INC-2026-006102", POLICE, "2026-04-01T22:30+01:00", "2026-04-02T10:20+01:00",
                 victims=[BETHANY_POLICE], perpetrators=pair_p, where=FLAT_4, risk=RiskLevel.HIGH),
        incident("ASB-2026-0042-R02", HOUSING, "2026-04-01T22:30+01:00", "2026-04-03T11:00+01:00",
                 victims=[BETHANY_HOUSING], perpetrators=pair_h, where=FLAT_4),
        incident("MSP-INC-2026-009876", POLICE, "2026-05-18T19:45+01:00", "2026-05-19T09:10+01:00",
                 victims=[SAMIR], perpetrators=[JORDAN_POLICE], category=NUISANCE, where=COURT,
                 risk=RiskLevel.STANDARD),
        incident("MSP-INC-2026-010233", POLICE, "2026-05-20T23:00+01:00", "2026-05-21T11:30+01:00",
                 victims=[BETHANY_POLICE], perpetrators=pair_p, where=FLAT_4, risk=RiskLevel.HIGH),
        intervention("MSP-CPW-2026-0117", CPW, JORDAN_POLICE, date(2026, 5, 25), related=RELATED),
        intervention("MSP-CPW-2026-0118", CPW, TYLER_POLICE, date(2026, 5, 25), related=RELATED),
        incident("MSP-INC-2026-012090", POLICE, "2026-06-09T23:15+01:00", "2026-06-10T09:40+01:00",
                 victims=[BETHANY_POLICE], perpetrators=[JORDAN_POLICE], where=FLAT_4,
                 risk=RiskLevel.HIGH),
        incident("MSP-INC-2026-012455", POLICE, "2026-06-14T22:10+01:00", "2026-06-15T10:25+01:00",
                 victims=[DAWN], perpetrators=[TYLER_POLICE], category=NUISANCE, where=COOPER_ST,
                 risk=RiskLevel.MEDIUM),
        intervention("MSP-CPN-2026-0044", InterventionType.COMMUNITY_PROTECTION_NOTICE,
                     JORDAN_POLICE, date(2026, 6, 25), related=["MSP-INC-2026-012090"]),
    ]  # fmt: skip
