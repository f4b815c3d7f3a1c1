"""What the housing and police JSON formats share, so each rule is written once for both.

Both partners send one strict JSON object per record, validated by pydantic models, and refer to
each other's records (a housing report quotes a police incident reference). Field types,
cross-field rules, the parse-and-refuse flow, intervention terms and reference tokens therefore
live here: if they drifted apart, the same person or reference would be refused, or tokenised,
differently depending on who sent it. Health speaks FHIR and has its own parsing.
"""
