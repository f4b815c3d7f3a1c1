"""The correlator: joins canonical events by person and place and raises case-review alerts."""
