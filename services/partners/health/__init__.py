"""Health partner: FHIR R4 (NHS England UK Core) resources, safeguarding-relevant facts only."""
