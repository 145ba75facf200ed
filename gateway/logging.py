"""structlog set-up: JSON lines on stderr, with the call's org, role, actor and method bound by
the identity interceptor through context variables. Nothing personal is ever logged: log fields
are ids, methods, outcomes and durations."""

from __future__ import annotations

import logging
import sys

import structlog


def configure(
    level: str = "INFO", *, json: bool = True, static: dict[str, object] | None = None
) -> None:
    """``static``: fields on every line of this process (a worker's slot and pid)."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *([_adding(static)] if static else []),
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=_StderrLogger,
        cache_logger_on_first_use=False,
    )


def _adding(fields: dict[str, object]) -> structlog.typing.Processor:
    def add(
        _logger: object, _method: str, event: structlog.typing.EventDict
    ) -> structlog.typing.EventDict:
        for key, value in fields.items():
            event.setdefault(key, value)
        return event

    return add


class _StderrLogger:
    """Writes each line to whatever ``sys.stderr`` is at the time of writing (not at set-up):
    a stream swapped out later (a test runner's capture, a daemon's redirect) is followed."""

    def __init__(self, *_args: object) -> None:
        pass

    def msg(self, message: str) -> None:
        # One write per line: the worker processes of `serve --workers N` share the stream.
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
