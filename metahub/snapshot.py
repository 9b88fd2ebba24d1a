"""Context snapshots: every answer AWS gave a run's enrichment, kept to be evaluated again offline.

A snapshot is recorded below the fetch engine, at the one place clients are made
(:class:`metahub.aws.Aws`): each call's answer or error, keyed by (account, region,
``service:Operation``, parameters), as botocore parsed it. Replaying hands botocore those answers
instead of sending requests (its ``before-call`` hook, as botocore's own Stubber does), so every
check, rollup, tag, trail and account context is evaluated again by the same code as the live run,
with no AWS call. A call the snapshot does not hold fails with :class:`NotInSnapshot`, and what
needed it comes out unknown with that reason: never guessed.

The file is gzip'd JSON lines (``zcat ctx.jsonl.gz | jq``): a header (``"metahub": "context"``,
format, metahub version, time, caller account, the accounts entered or not with the reason, the
regions), then one line per call: ``account``, ``region``, ``operation``, ``params``, ``status``
and the ``response`` (or the ``error``). Times are ISO 8601 text and binary values base64, both
typed again from botocore's model of the operation when replayed. A time among the parameters is
relative to when the call was sent (CloudTrail's lookback), so the key holds ``"<time>"`` instead.

Secrets AWS responses can carry are not written (:data:`REDACTED_KEYS`): EC2 user data, Lambda
environment variable values (their names are kept), the presigned URL of a Lambda's code, and any
credentials or secret values. Entering accounts (AssumeRole, GetCallerIdentity) is not recorded:
the header lists the accounts the run entered, and why it could not enter the others.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError
from botocore.model import Shape

from metahub.files import atomic
from metahub.version import __version__

FORMAT = 1
"""The snapshot file's format: a replay reads only its own, and says which it found."""
REDACTED = "<redacted by metahub>"
REDACTED_KEYS = frozenset({"UserData", "userData", "Credentials", "SecretString", "SecretBinary", "Password"})
"""Keys whose values are replaced wherever they appear in a response."""
TIME = "<time>"
CACHE_TTL = 3600.0
"""How long a context cache's answers are reused unless told (seconds)."""
UNREPLAYABLE = frozenset({"s3:GetBucketLocation"})
"""Operations whose answer botocore reads from the raw body after the call: not recorded, so that
a replay says they are not in the snapshot instead of answering without the value."""

log = logging.getLogger(__name__)

Key = tuple[str, str, str, str]
"""(account, region, ``service:Operation``, the parameters as canonical JSON)."""


class SnapshotError(ValueError):
    """A snapshot file that cannot be replayed: names the file, the line and why."""


class NotInSnapshot(BotoCoreError):  # type: ignore[misc]
    """The replayed snapshot holds no answer to this call."""

    fmt = "{operation} in account {account} {region} is not in the snapshot {source}"


def params_key(params: Mapping[str, Any]) -> str:
    """The parameters of a call as canonical JSON, times replaced by ``"<time>"``."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=_canonical)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return TIME
    return _plain(value)


def _plain(value: Any) -> Any:
    """JSON's form of what botocore parses beyond JSON: times as ISO 8601, binary as base64."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return str(value)


def redacted(value: Any) -> Any:
    """``value`` without the secrets a snapshot does not keep (a copy; the run keeps its own)."""
    if isinstance(value, list):
        return [redacted(item) for item in value]
    if not isinstance(value, dict):
        return value
    kept: dict[str, Any] = {}
    for key, item in value.items():
        if key in REDACTED_KEYS and item is not None:
            kept[key] = REDACTED
        elif key == "Environment" and isinstance(item, dict) and isinstance(item.get("Variables"), dict):
            kept[key] = {**redacted(item), "Variables": {name: REDACTED for name in item["Variables"]}}
        elif key == "Code" and isinstance(item, dict) and "Location" in item:  # a presigned URL
            kept[key] = {**redacted(item), "Location": REDACTED}
        else:
            kept[key] = redacted(item)
    return kept


def revived(value: Any, shape: Shape | None) -> Any:
    """JSON read back into what botocore would have parsed, by the operation's output shape."""
    if shape is None or value is None or value == REDACTED:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {key: revived(item, members.get(key)) for key, item in value.items()}
    if kind == "list" and isinstance(value, list):
        return [revived(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: revived(item, shape.value) for key, item in value.items()}
    if kind == "timestamp" and isinstance(value, str):
        return datetime.fromisoformat(value)
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    return value


@dataclass
class Snapshot:
    """The answers of one run's enrichment, recorded or read from a file (:meth:`load`)."""

    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    version: str = __version__
    caller: str | None = None
    contexts: list[str] = field(default_factory=list)
    """What the recorded run was enriched with: a replay's default."""
    accounts: dict[str, str | None] = field(default_factory=dict)
    """Each account the run tried to enter: None when it did, else why not."""
    source: str = "recorded in this run"
    _answers: dict[Key, tuple[int, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return len(self._answers)

    @property
    def regions(self) -> list[str]:
        return sorted({key[1] for key in self._answers})

    def record(self, key: Key, status: int, parsed: Any) -> None:
        """One call's answer (or its error, from status 300 on), secrets taken out."""
        if key[2] in UNREPLAYABLE:
            return
        answer = dict(parsed)
        answer.pop("ResponseMetadata", None)
        text = json.dumps(redacted(answer), separators=(",", ":"), default=_plain)
        with self._lock:
            self._answers[key] = (status, text)

    def answer(self, key: Key, shape: Shape | None) -> tuple[int, Any]:
        """The status and parsed answer of a call as recorded (a fresh copy), or :class:`NotInSnapshot`."""
        found = self.find(key, shape)
        if found is None:
            account, region, operation, _ = key
            raise NotInSnapshot(operation=operation, account=account, region=region, source=self.source)
        return found

    def find(self, key: Key, shape: Shape | None) -> tuple[int, Any] | None:
        """The status and parsed answer of a call as recorded (a fresh copy), or None."""
        found = self._answers.get(key)
        if found is None:
            return None
        status, text = found
        parsed = json.loads(text)
        if status < 300:
            parsed = revived(parsed, shape)
        parsed["ResponseMetadata"] = {"HTTPStatusCode": status}  # what botocore's answers always carry
        return status, parsed

    # --- the file ----------------------------------------------------------------------------

    def part(self, account: str, region: str) -> Snapshot:
        """The answers of one account and region, in a snapshot of their own (the same header)."""
        kept = Snapshot(self.created, self.version, self.caller, self.contexts, self.accounts, self.source)
        with self._lock:
            kept._answers = {key: answer for key, answer in self._answers.items() if key[:2] == (account, region)}
        return kept

    def merge(self, other: Snapshot) -> None:
        """Add ``other``'s answers (its own win) and accounts; the older creation time stays."""
        with self._lock, other._lock:
            self._answers.update(other._answers)
        self.accounts = {**self.accounts, **other.accounts}
        self.created = min(self.created, other.created)

    @property
    def age(self) -> float:
        """Seconds since the snapshot was made."""
        return (datetime.now(timezone.utc) - datetime.fromisoformat(self.created)).total_seconds()

    def save(self, path: str | Path) -> Path:
        """Write the snapshot (gzip'd JSON lines), whole or not at all."""
        target = Path(path)
        header = {"metahub": "context", "format": FORMAT, "version": self.version, "created": self.created,
                  "contexts": self.contexts, "caller": self.caller, "accounts": self.accounts, "regions": self.regions}  # fmt: skip
        with atomic(target) as part, gzip.open(part, "wt", encoding="utf-8") as fh:
            fh.write(json.dumps(header) + "\n")
            with self._lock:
                answers = sorted(self._answers.items())
            for (account, region, operation, params), (status, text) in answers:
                kind = "error" if status >= 300 else "response"
                fh.write(f'{{"account":{json.dumps(account)},"region":{json.dumps(region)},'
                         f'"operation":{json.dumps(operation)},"params":{params},"status":{status},'
                         f'"{kind}":{text}}}\n')  # fmt: skip
        return target

    @classmethod
    def load(cls, path: str | Path) -> Snapshot:
        """Read a snapshot file; :class:`SnapshotError` names the file, the line and what is wrong."""
        lines = _lines(Path(path))
        number, header = next(lines, (1, None))
        if not isinstance(header, dict) or header.get("metahub") != "context":
            raise SnapshotError(f"{path}: line {number}: not a metahub context snapshot (no header)")
        if header.get("format") != FORMAT:
            raise SnapshotError(
                f"{path}: snapshot format {header.get('format')!r} (metahub {header.get('version', '?')}); "
                f"metahub {__version__} replays format {FORMAT}: collect the context again"
            )
        try:
            snapshot = cls(created=str(header["created"]), version=str(header["version"]), caller=header["caller"],
                           contexts=list(header["contexts"]), accounts=dict(header["accounts"]),
                           source=str(path))  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"{path}: line {number}: the header lacks {exc}") from None
        for number, line in lines:
            try:
                status = int(line["status"])
                answer = line["error" if status >= 300 else "response"]
                key = (str(line["account"]), str(line["region"]), str(line["operation"]), params_key(line["params"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise SnapshotError(f"{path}: line {number}: not a recorded call ({exc!r} missing or wrong)") from None
            snapshot._answers[key] = (status, json.dumps(answer, separators=(",", ":")))
        return snapshot


class ContextCache:
    """Answers kept across runs (``--context-cache DIR``): one snapshot file per (account, region),
    reused while younger than ``ttl`` seconds; what a run asks beyond them is asked of AWS and
    added. A file is as old as its oldest answer, so that nothing is reused past its time."""

    def __init__(self, directory: str | Path, ttl: float) -> None:
        self.directory, self.ttl = Path(directory), ttl
        self._fresh: dict[tuple[str, str], Snapshot | None] = {}
        self._added = Snapshot(source=f"the context cache {self.directory}")
        self._lock = threading.Lock()
        self.reused = 0

    def path(self, account: str, region: str) -> Path:
        """The file of one account and region. Both come from findings (hostile data): a name that is
        not plainly an account and a region is hashed, never used as a path."""
        name = f"{account}-{region}"
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,80}", name):
            name = hashlib.sha256(name.encode()).hexdigest()[:32]
        return self.directory / f"{name}.jsonl.gz"

    def find(self, key: Key, shape: Shape | None) -> tuple[int, Any] | None:
        """A fresh answer to this call, or None (not kept, or kept too long ago)."""
        kept = self._snapshot(key[0], key[1])
        found = None if kept is None else kept.find(key, shape)
        if found is not None:
            with self._lock:
                self.reused += 1
        return found

    def record(self, key: Key, status: int, parsed: Any) -> None:
        self._added.record(key, status, parsed)

    def save(self) -> list[Path]:
        """Write each (account, region) that got new answers, with the fresh ones it had; from now
        on they are kept answers, this run's included."""
        written = []
        with self._added._lock:
            added = sorted({key[:2] for key in self._added._answers})
        for account, region in added:
            part = self._added.part(account, region)
            kept = self._snapshot(account, region)
            if kept is not None:
                kept.merge(part)
                part = kept
            self.directory.mkdir(parents=True, exist_ok=True)
            written.append(part.save(self.path(account, region)))
            with self._lock:
                self._fresh[(account, region)] = part
        self._added = Snapshot(source=self._added.source)
        return written

    def _snapshot(self, account: str, region: str) -> Snapshot | None:
        with self._lock:
            if (account, region) not in self._fresh:
                self._fresh[(account, region)] = self._read(account, region)
            return self._fresh[(account, region)]

    def _read(self, account: str, region: str) -> Snapshot | None:
        path = self.path(account, region)
        if not path.exists():
            return None
        try:
            kept = Snapshot.load(path)
        except SnapshotError as exc:  # another version's, or damaged: asked again, and written anew
            log.info("context cache %s not reused: %s", path, exc)
            return None
        return kept if kept.age < self.ttl else None


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    number = 1
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if line.strip():
                    yield number, json.loads(line)
    except OSError as exc:  # missing, unreadable, not gzip, cut short
        raise SnapshotError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"{path}: line {number}: not JSON ({exc})") from None
