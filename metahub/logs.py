"""Logging: metahub's own lines at the level asked for; AWS's wire lines (botocore, urllib3) only
when asked for with ``--log-wire``; and never a credential, whatever the level."""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

WIRE = ("botocore", "boto3", "urllib3", "s3transfer")
"""Loggers that print requests and responses: headers with session tokens, STS bodies with keys."""
_FIELDS = re.compile(
    r"(?P<key>(?:Secret_?Access_?Key|secret_key|Session_?Token|session_token|security[-_]token|[\"']token)"
    r"[\"']?\s*(?:>|:|=)\s*b?[\"']?)(?P<value>[^\"'<,\s}]+)",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"(Signature\s*[=:]\s*)[0-9a-f]+", re.IGNORECASE)
"""SigV4 signatures: ``Signature=...`` of an Authorization header or a presigned URL's
``X-Amz-Signature=``, and botocore's own ``Signature:\n...`` debug line."""
_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
"""Access key ids (``Credential=AKIA.../...`` of a signature, ``X-Amz-Credential=``): half of a key
pair, never needed to read a log."""
MASK = "***"


class Redactor(logging.Filter):
    """Masks credentials in every record: named fields (XML, JSON, headers, repr), signatures, and
    the literal values of the credentials in the environment."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets = [
            value
            for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
            if len(value := os.environ.get(name, "")) >= 8
        ]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        redacted = redact(text, self.secrets)
        if redacted != text:
            record.msg, record.args = redacted, ()
        return True


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    text = _FIELDS.sub(lambda m: m["key"] + MASK, text)
    text = _KEY_ID.sub(MASK, text)
    return _SIGNATURE.sub(r"\1" + MASK, text)


def configure(level: str, wire: bool = False, log_file: Path | None = None) -> None:
    """Send records to stderr (and ``log_file``), redacted; wire loggers stay at WARNING unless
    ``wire``."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    redactor = Redactor()
    for handler in handlers:
        handler.addFilter(redactor)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers = handlers
    root.setLevel(level)
    for name in WIRE:
        logging.getLogger(name).setLevel(level if wire else max(logging.WARNING, logging.getLevelName(level)))
