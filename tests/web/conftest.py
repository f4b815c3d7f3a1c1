"""Web UI fixtures (defined in :mod:`tests.web.browser`)."""

from tests.web.browser import chromium, live_server, page, web_settings

__all__ = ["chromium", "live_server", "page", "web_settings"]
