"""Logging and trace context shared by every service."""
