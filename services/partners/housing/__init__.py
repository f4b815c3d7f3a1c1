"""Housing association partner: tenancy and ASB case messages (format, mapping, adapter)."""
