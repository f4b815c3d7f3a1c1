"""structlog set-up: one pipeline for every service.

Why this shape: ``merge_contextvars`` first, so that the event id and trace id bound at the start
of a message's handling appear on every line logged while handling it; JSON when output is not a
terminal (production, CI, containers), a readable console renderer when it is. Standard-library
logging (aiokafka, FastStream) is routed through the same renderer.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Literal

import structlog

__all__ = ["configure_logging", "get_logger"]

LogFormat = Literal["json", "console", "auto"]


def configure_logging(fmt: LogFormat | None = None, level: str | None = None) -> None:
    """Configure structlog and stdlib logging once per process."""
    chosen = fmt or os.environ.get("ASBX_LOG_FORMAT", "auto")
    level_name = (level or os.environ.get("ASBX_LOG_LEVEL", "INFO")).upper()
    as_json = chosen == "json" or (chosen == "auto" and not sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level_name)),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if as_json else _identity,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level_name)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))


def _identity(
    _logger: object, _name: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    return event_dict


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A bound logger named after its module."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
