"""The lead officer's case work: case file, OSARA analysis and records, figures, evidence bundle."""
