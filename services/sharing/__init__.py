"""Data-sharing agreements: who may read which data class, for what purpose, on what basis."""
