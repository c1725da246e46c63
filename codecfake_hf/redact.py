"""Keeping Hub tokens out of logs, messages and tracebacks: `redact()` and a logging filter.

A Hub token is a secret: printed once in a CI log or a pasted traceback, it is published. The HTTP
stack logs request and response headers at DEBUG (`httpcore2`/`httpx2`, `urllib3`), and a server
may echo the `Authorization` header back in a body or a header, so the token can turn up anywhere
in a log line or an exception's text. `install()` redacts every log record at its creation (a
record factory, so every logger and handler is covered, whatever its level), adds the same
filter to the handlers present, and redacts the traceback of an exception nobody caught;
`redact()` is for messages built by hand (the command lines' final `error:` line).

Shapes are not enough: a token from a proxy or a mirror need not look like `hf_...`. The command
lines therefore register the token in use, whatever its shape, before anything can log it
(`register_tokens`: `--token`/`--hub_token`, `HF_TOKEN`, the saved login), and every redaction
masks its exact value.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path

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


# Flags through which a command line receives a token (`--flag VALUE` or `--flag=VALUE`).
TOKEN_FLAGS = ("--token", "--hub_token", "--hub-token")
TOKEN_KEYS = ("token", "hub_token")  # the same, in a JSON file of arguments (`eval score args.json`)


def register_tokens(argv: Sequence[str] = ()) -> None:
    """Register the token(s) a command will use, whatever their shape: `HF_TOKEN`, the saved login, the values
    of `TOKEN_FLAGS` in `argv`, and the `TOKEN_KEYS` of a lone JSON arguments file."""
    add_secret(os.environ.get("HF_TOKEN"))
    add_secret(os.environ.get("HUGGING_FACE_HUB_TOKEN"))
    try:
        from huggingface_hub import get_token

        add_secret(get_token())
    except Exception:  # an unreadable token file: then there is no saved login to protect
        pass
    argv = [str(arg) for arg in argv]
    for i, arg in enumerate(argv):
        flag, equals, value = arg.partition("=")
        if flag in TOKEN_FLAGS:
            add_secret(value if equals else (argv[i + 1] if i + 1 < len(argv) else None))
    if len(argv) == 1 and argv[0].endswith(".json"):
        try:
            values = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(values, dict):
            for key in TOKEN_KEYS:
                if isinstance(values.get(key), str):
                    add_secret(values[key])


def redact(text: str) -> str:
    """`text` with Hub tokens, registered secrets and `Authorization`/`Bearer` values replaced by `***`."""
    if not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = TOKEN.sub(MASK, text)
    text = AUTHORIZATION.sub(lambda m: f"{m[1]}{m[2] + ' ' if m[2] else ''}{MASK}", text)
    return BEARER.sub(lambda m: f"{m[1]} {MASK}", text)


def registered_secrets() -> set[str]:
    """The secrets registered so far (the token in use, whatever its shape)."""
    with _lock:
        return set(_secrets)


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


def _print_redacted(kind, value, tb) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    sys.stderr.write(f"Exception in thread {name}:\n")
    _print_redacted(args.exc_type, args.exc_value, args.exc_traceback)


def install() -> None:
    """Redact every log record from now on (idempotent): a record factory, plus the filter on the root
    logger's handlers and on the HTTP libraries' loggers (for handlers added to them directly); and the
    traceback of an uncaught exception (main thread or another), where Python's own hooks are in place."""
    global _installed
    with _lock:
        if not _installed:
            previous = logging.getLogRecordFactory()

            def factory(*args, **kwargs):
                return _redact_record(previous(*args, **kwargs))

            logging.setLogRecordFactory(factory)
            _installed = True
        if sys.excepthook is sys.__excepthook__:  # never replace a hook someone else installed (a debugger's)
            sys.excepthook = _print_redacted
        if threading.excepthook is threading.__excepthook__:
            threading.excepthook = _thread_hook
    the_filter = RedactingFilter()
    for logger in [logging.getLogger(), *(logging.getLogger(name) for name in HTTP_LOGGERS)]:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(the_filter)
