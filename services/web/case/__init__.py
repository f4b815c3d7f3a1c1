"""The lead officer's case pages (OSARA case view, evidence bundle, yearly figures)."""
