"""Keeping Hub tokens out of logs, messages and tracebacks: `redact()` and a logging filter.

A Hub token is a secret: printed once in a CI log or a pasted traceback, it is published. The HTTP
stack logs request and response headers at DEBUG (`httpcore2`/`httpx2`, `urllib3`), and a server
may echo the `Authorization` header back in a body or a header, so the token can turn up anywhere
in a log line or an exception's text. `install()` redacts every log record at its creation (a
record factory, so every logger and handler is covered, whatever its level) and adds the same
filter to the handlers present; `redact()` is for messages built by hand.
"""

from __future__ import annotations

import logging
import re
import threading

# `hf_` followed by the token's body (the Hub's user and org tokens are `hf_` + 34 letters/digits;
# 8+ keeps shorter test tokens and cut-off copies covered without matching words like `hf_hub`).
TOKEN = re.compile(r"hf_[A-Za-z0-9]{8,}")
# An `Authorization` header in any of the shapes a log line shows it: `Authorization: Bearer X`,
# `'authorization': 'Bearer X'`, httpcore's `(b'Authorization', b'Bearer X')`.
AUTHORIZATION = re.compile(
    r"(?i)(authorization[\"']?\s*[:=,]\s*(?:b?[\"'])?)(?:(bearer|basic|token)\s+)?[^\s\"',)\]}]+")
BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',)\]}]+")
MASK = "***"
# Libraries whose loggers may carry headers, URLs with credentials or server replies.
HTTP_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2", "urllib3", "requests", "huggingface_hub",
                "transformers", "datasets", "filelock", "fsspec", "aiohttp")

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def add_secret(value: str | None) -> None:
    """Redact `value` too, wherever it appears (a token that does not look like `hf_...`)."""
    if value and len(value) >= 8:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """`text` with Hub tokens, registered secrets and `Authorization`/`Bearer` values replaced by `***`."""
    if not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = TOKEN.sub(MASK, text)
    text = AUTHORIZATION.sub(lambda m: f"{m[1]}{m[2] + ' ' if m[2] else ''}{MASK}", text)
    return BEARER.sub(lambda m: f"{m[1]} {MASK}", text)


def contains_secret(data: bytes, extra: str | None = None) -> bool:
    """Whether `data` holds a Hub token (`hf_...`), a registered secret or `extra`."""
    secrets = {*_secrets, *([extra] if extra else [])}
    return bool(re.search(rb"hf_[A-Za-z0-9]{8,}", data)) or any(s.encode() in data for s in secrets)


class RedactingFilter(logging.Filter):
    """A filter that rewrites a record's message (and its traceback text) through `redact()`; never drops it."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


def _redact_record(record: logging.LogRecord) -> logging.LogRecord:
    if getattr(record, "_codecfake_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: leave it to the handler to report, redacted as it is
        message = str(record.msg)
    cleaned = redact(message)
    if cleaned != message or record.args:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._codecfake_redacted = True
    return record


def install() -> None:
    """Redact every log record from now on (idempotent): a record factory, plus the filter on the root
    logger's handlers and on the HTTP libraries' loggers (for handlers added to them directly)."""
    global _installed
    with _lock:
        if not _installed:
            previous = logging.getLogRecordFactory()

            def factory(*args, **kwargs):
                return _redact_record(previous(*args, **kwargs))

            logging.setLogRecordFactory(factory)
            _installed = True
    the_filter = RedactingFilter()
    for logger in [logging.getLogger(), *(logging.getLogger(name) for name in HTTP_LOGGERS)]:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(the_filter)
