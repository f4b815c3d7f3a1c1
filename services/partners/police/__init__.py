"""Police partner: POLE incident and action messages (format, mapping, adapter)."""
