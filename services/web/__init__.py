"""The information-governance review web UI (GOV.UK Design System), and its login."""
