"""asbx services: partner normalisers, the correlator, and the adapters they share."""
