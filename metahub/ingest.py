"""Read findings from files and streams into validated :class:`~metahub.models.Finding` objects.

Accepted shapes, detected from the content (not the file name): a JSON array of findings
(Prowler), ``{"Findings": [...]}`` (Security Hub API), JSON lines, EventBridge events
(``detail.findings``), Prowler OCSF (``json-ocsf``), any of them gzip-compressed, UTF-8 with or
without BOM, or UTF-16. A bad finding, line or file is reported as a :class:`Problem` naming the
source and the position; everything valid around it is still read.
"""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import re
import select
import stat
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, Protocol, cast, runtime_checkable

from pydantic import BaseModel, ValidationError
from pydantic_core import from_json, to_json

from metahub import ocsf
from metahub.models import Finding

log = logging.getLogger("metahub.ingest")


@runtime_checkable
class RecordSource(Protocol):
    """Findings that arrive already parsed (an API, an event): ``records()`` yields
    ``(where, data)`` per finding candidate, or a :class:`Problem` when reading stops early."""

    name: str

    def records(self) -> Iterator[tuple[str, Any] | Problem]: ...


Source = str | Path | BinaryIO | RecordSource

_GZIP_MAGIC = b"\x1f\x8b"
_FINDING_KEYS = ("Id", "SchemaVersion", "Resources", "ProductArn", "AwsAccountId")
_CHUNK = 1 << 20
# A JSON-lines line holds one finding or event (Security Hub caps both near 256 KB). A first
# line longer than this is the start of one big document, read whole without line scanning.
_MAX_LINE = 4 << 20


@dataclass(frozen=True)
class Problem:
    """Something that could not be read: a whole source (``where`` empty) or one finding in it."""

    source: str
    where: str
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.source}: {self.where}: {self.reason}" if self.where else f"{self.source}: {self.reason}"
        )


class Repair(Problem):
    """Damage read around: bytes replaced or escaped, padding ignored; the findings in and around
    it were read. A warning (exit status 1), not an unreadable source."""


@dataclass(frozen=True)
class Deviation:
    """A real-world departure from ASFF that other consumers accept, read anyway and reported."""

    source: str
    where: str
    kind: str


# Real scanners write these; Security Hub's own model says a wrapper is "Findings" and map values
# are strings. Reading them with a warning beats rejecting whole files other tools accept.
WRAPPER_LOWERCASE = 'a lowercase {"findings": [...]} wrapper, read as "Findings"'
MAP_NOT_STRINGS = "ProductFields/UserDefinedFields values that are not strings, kept as JSON text"
_STRING_MAPS = ("ProductFields", "UserDefinedFields")


@dataclass
class Deviations:
    """How often each kind of deviation was read leniently, and where it was first seen."""

    first: Deviation
    count: int = 0


@dataclass
class IngestReport:
    sources: list[str] = field(default_factory=list)
    read: int = 0
    """Finding candidates seen, valid or not."""
    rejected: list[Problem] = field(default_factory=list)
    """Findings that failed validation; the rest of their source was read."""
    unreadable: list[Problem] = field(default_factory=list)
    """Sources, or parts of them, that could not be parsed at all."""
    repaired: list[Problem] = field(default_factory=list)
    """Damage read around (:class:`Repair`): every finding in and around it was read."""
    duplicates: int = 0
    filtered_out: int = 0
    deviations: dict[str, Deviations] = field(default_factory=dict)
    """Per kind: findings read leniently (see :class:`Deviation`); a warning each, not a rejection."""

    def deviated(self, deviation: Deviation) -> None:
        self.deviations.setdefault(deviation.kind, Deviations(deviation)).count += 1

    @property
    def problems(self) -> list[Problem]:
        return self.unreadable + self.repaired + self.rejected


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many long-lived objects, then freeze them.

    Every few hundred allocations CPython scans all tracked objects; loading 100,000
    findings otherwise spends more time in those scans than in parsing. Freezing what was built
    (``gc.freeze``) keeps the next full collection from scanning it all again: without it, whatever
    allocates next (impact scoring, the outputs) pays seconds for the findings' first scan.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def read_findings(
    sources: Iterable[Source],
    report: IngestReport,
    *,
    only_failed: bool = False,
    only_active: bool = False,
    until: float | None = None,
) -> list[Finding]:
    """Read every source; the same (ProductArn, Id) seen twice is kept once, the latest UpdatedAt wins.
    ``until`` (a :func:`time.monotonic` time) ends reading: what was read before it is kept."""
    return cast(list[Finding], list(_read(sources, report, only_failed, only_active, until, None, None).values()))


def read_part(
    sources: Iterable[Source],
    report: IngestReport,
    keep: Callable[[Finding], bool],
    *,
    only_failed: bool = False,
    only_active: bool = False,
    until: float | None = None,
) -> list[tuple[int, Finding]]:
    """What :func:`read_findings` reads, only the findings ``keep`` wants, each with its position
    among all of them; the others cost a few bytes each, not a finding's ten kilobytes."""
    read = _read(sources, report, only_failed, only_active, until, keep, None)
    return [(position, f) for position, f in enumerate(read.values()) if isinstance(f, Finding)]


def read_into(
    sources: Iterable[Source],
    report: IngestReport,
    sink: Callable[[int, Finding], None],
    *,
    only_failed: bool = False,
    only_active: bool = False,
    until: float | None = None,
) -> None:
    """What :func:`read_findings` reads, each finding handed to ``sink(position, finding)`` instead
    of kept: memory holds a few hundred bytes per finding, not its kilobytes. A later duplicate
    that wins (a newer UpdatedAt) is handed over again with the same position: the last one handed
    for a position is the one :func:`read_findings` keeps, there."""
    _read(sources, report, only_failed, only_active, until, None, sink)


class _Left(NamedTuple):
    """A finding read and not kept (left out by ``keep``, or handed to a sink): what a duplicate is
    compared by, and its position (of a finding handed to a sink)."""

    UpdatedAt: datetime | None
    position: int = -1


def _read(
    sources: Iterable[Source],
    report: IngestReport,
    only_failed: bool,
    only_active: bool,
    until: float | None,
    keep: Callable[[Finding], bool] | None,
    sink: Callable[[int, Finding], None] | None,
) -> dict[tuple[str | None, str], Finding | _Left]:
    kept: dict[tuple[str | None, str], Finding | _Left] = {}
    products: dict[str | None, str | None] = {}  # a sink's keys outlive their findings: one text per product
    shared = Shared()
    with gc_paused():
        for source in sources:
            name = _source_name(source)
            report.sources.append(name)
            for item in _candidates(source, name, until):
                if isinstance(item, Repair):
                    report.repaired.append(item)
                    continue
                if isinstance(item, Problem):
                    report.unreadable.append(item)
                    continue
                report.read += 1
                finding = _validate(name, *item, report)
                if isinstance(finding, Problem):
                    report.rejected.append(finding)
                    continue
                if (only_failed and finding.compliance_status != "FAILED") or (
                    only_active and finding.RecordState not in (None, "ACTIVE")
                ):
                    report.filtered_out += 1
                    continue
                if sink is None:  # a sink's findings are gone once handed over
                    shared.share(finding)
                key = (products.setdefault(finding.ProductArn, finding.ProductArn), finding.Id)
                previous = kept.get(key)
                if previous is not None:
                    report.duplicates += 1
                    if _newer(previous, finding):
                        continue
                if sink is not None:
                    position = len(kept) if previous is None else cast(_Left, previous).position
                    sink(position, finding)
                    kept[key] = _Left(finding.UpdatedAt, position)
                else:
                    kept[key] = finding if keep is None or keep(finding) else _Left(finding.UpdatedAt)
    return kept


class Shared:
    """Equal parts of findings held once. A check's findings repeat its compliance (requirements,
    standards), remediation, severity and types on every resource: sharing them takes a finding
    from 10.3 to 6.2 KiB in memory (the lab's findings). Nothing changes a finding's parts after
    reading; a field whose values do not repeat (text per resource) stops being looked at."""

    FIELDS = ("Compliance", "Remediation", "Severity", "Types")

    def __init__(self) -> None:
        self.seen: dict[str, dict[bytes, Any]] = {name: {} for name in self.FIELDS}
        self.findings = 0

    def share(self, finding: Finding) -> None:
        self.findings += 1
        held = finding.__dict__
        for name, values in self.seen.items():
            value = held.get(name)
            if value is not None:
                held[name] = values.setdefault(self._key(value), value)
        if self.findings == 1000:
            self.seen = {name: values for name, values in self.seen.items() if len(values) < 500}

    @staticmethod
    def _key(value: Any) -> bytes:
        """Equal text for equal parts; a model's keeps which fields it was given, as it is written back."""
        if isinstance(value, BaseModel):
            return type(value).__pydantic_serializer__.to_json(value, exclude_unset=True)
        return to_json(value)


def _newer(current: Finding | _Left, candidate: Finding) -> bool:
    """True when ``current`` is at least as recent as ``candidate``."""
    if current.UpdatedAt is None:
        return candidate.UpdatedAt is None
    return candidate.UpdatedAt is None or current.UpdatedAt >= candidate.UpdatedAt


def _validate(name: str, where: str, data: Any, report: IngestReport) -> Finding | Problem:
    if isinstance(data, Rejected):
        return Problem(name, where, data.reason)
    if not isinstance(data, dict):
        return Problem(name, where, f"expected a finding object, got {_json_type(data)}")
    try:
        if ocsf.is_ocsf(data):
            data = ocsf.to_asff(data)
        elif not any(key in data for key in _FINDING_KEYS):
            keys = ", ".join(repr(k) for k in list(data)[:6]) or "none"
            return Problem(
                name,
                where,
                'not an ASFF finding, a {"Findings": [...]} object, an EventBridge event or an OCSF '
                f"finding (keys: {keys})",
            )
        if ".findings[" in where and ".detail.findings[" not in where:
            report.deviated(Deviation(name, where, WRAPPER_LOWERCASE))
        if _stringify_maps(data):
            report.deviated(Deviation(name, _with_id(where, data), MAP_NOT_STRINGS))
        return Finding.model_validate(data)
    except ValidationError as exc:
        dropped = _optional_failures(exc, data)
        if not dropped:
            return Problem(name, _with_id(where, data), _summarise(exc))
        for field_name in dropped:
            report.repaired.append(
                Repair(
                    name,
                    _with_id(where, data),
                    f"{field_name} {data.pop(field_name)!r} is not a time: dropped, the finding kept",
                )
            )
        return _validate(name, where, data, report)
    except ValueError as exc:
        return Problem(name, _with_id(where, data), str(exc))


_OPTIONAL_TIMES = ("FirstObservedAt", "LastObservedAt", "CreatedAt", "UpdatedAt")


def _optional_failures(exc: ValidationError, data: dict[str, Any]) -> list[str]:
    """The optional times whose text is no time (``"T122:29"``), when they are all that failed: a
    finding is kept without them. A required field, or a value of the wrong type, still rejects it."""
    failed = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
    if not failed or not failed <= set(_OPTIONAL_TIMES):
        return []
    return sorted(f for f in failed if isinstance(data.get(f), str))  # a number or a list: type confusion


def _stringify_maps(data: dict[str, Any]) -> bool:
    """Turn non-string values of ASFF's string maps into JSON text; True when any was changed."""
    changed = False
    for key in _STRING_MAPS:
        values = data.get(key)
        if isinstance(values, dict) and not all(isinstance(v, str) for v in values.values()):
            data[key] = {
                k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":"), ensure_ascii=False)
                for k, v in values.items()
            }
            changed = True
    return changed


def _with_id(where: str, data: dict[str, Any]) -> str:
    finding_id = data.get("Id")
    if isinstance(finding_id, str) and finding_id:
        return f"{where} (Id {finding_id[:200]!r})"
    return where


def _summarise(exc: ValidationError, limit: int = 3) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    parts = []
    for error in errors[:limit]:
        loc = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in error["loc"]).replace(".[", "[")
        parts.append(f"{loc or 'finding'}: {error['msg']}")
    more = f" (+{len(errors) - limit} more)" if len(errors) > limit else ""
    return "; ".join(parts) + more


def _json_type(value: Any) -> str:
    return {
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


# --- sources -----------------------------------------------------------------------------------


def _source_name(source: Source) -> str:
    if isinstance(source, RecordSource):
        return source.name
    if isinstance(source, (str, Path)):
        return "<stdin>" if str(source) == "-" else str(source)
    return getattr(source, "name", None) or "<stream>"


PIPE_WAIT = 10.0
"""Seconds a named pipe (``mkfifo``, ``<(command)``) is waited for its first byte: one that nobody
writes to would otherwise hold the run for ever."""


SILENCE_NOTE = 30.0
"""Seconds a pipe may be silent before the run says it is waiting for it (once per input)."""


def _open(source: Source, name: str, until: float | None) -> io.RawIOBase | BinaryIO:
    if isinstance(source, (str, Path)):
        if str(source) == "-":
            try:
                return _Bounded(sys.stdin.fileno(), name, until, own=False)
            except (OSError, ValueError):  # a replaced sys.stdin (a notebook, a test): read it as it is
                return sys.stdin.buffer
        if stat.S_ISFIFO(os.stat(source).st_mode):
            return _open_pipe(str(source), name, until)
        return _Bounded(os.open(source, os.O_RDONLY), name, until)
    assert not isinstance(source, RecordSource), "record sources are read without opening"
    return source


def _open_pipe(path: str, name: str, until: float | None) -> _Bounded:
    """A named pipe (``mkfifo``) or the shell's (``<(command)``, ``/dev/stdin``), opened without
    waiting (open() blocks until a writer comes). A read then says whether a writer is there: data,
    or "none yet" (EAGAIN) while one is, or end of data while none is. Nobody writing for
    :data:`PIPE_WAIT` seconds (or until the run's deadline) is a TimeoutError; a writer that is
    there but slow (a scanner still working) is waited for like any pipe."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        wait = PIPE_WAIT if until is None else max(0.0, min(PIPE_WAIT, until - time.monotonic()))
        given_up = time.monotonic() + wait
        while True:
            try:
                first = os.read(fd, _CHUNK)
            except BlockingIOError:  # a writer is there, nothing written yet
                first = b""
                break
            if first:
                break
            if time.monotonic() >= given_up:
                raise TimeoutError(f"a named pipe nothing was written to in {wait:g} s")
            time.sleep(0.05)
        os.set_blocking(fd, True)
        return _Bounded(fd, name, until, first=first)
    except BaseException:
        os.close(fd)
        raise


class _Bounded(io.RawIOBase):
    """An input read so that it ends: a regular file up to the size it had when opened (one that
    grows while read, a log still written, is read as it was), a pipe, socket or device waited for
    with ``select`` so that the run's deadline ends a silent writer. Where the deadline stopped the
    read, ``stopped`` says so and the read ends as if the data did (what came before is parsed)."""

    def __init__(self, fd: int, name: str, until: float | None, *, own: bool = True, first: bytes = b""):
        self.fd, self.name_, self.until, self.own, self.first = fd, name, until, own, first
        self.stopped: str | None = None
        mode = os.fstat(fd)
        self.left = mode.st_size if stat.S_ISREG(mode.st_mode) and mode.st_size > 0 else None
        self.waits = not stat.S_ISREG(mode.st_mode)
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.first:  # what a named pipe's first read brought
            count = min(len(buffer), len(self.first))
            buffer[:count], self.first = self.first[:count], self.first[count:]
            self.read_bytes += count
            return count
        if self.stopped or self.left == 0:
            return 0
        if self.until is not None and time.monotonic() >= self.until:
            return self._stop()
        if self.waits and not self._wait():
            return self._stop()
        view = memoryview(buffer)
        count = os.readv(self.fd, [view if self.left is None else view[: self.left]])
        if self.left is not None:
            self.left -= count
        self.read_bytes += count
        return count

    def _wait(self) -> bool:
        """Wait for data (or its end); False when the deadline came first."""
        noted = False
        while True:
            wait = SILENCE_NOTE if self.until is None else min(SILENCE_NOTE, self.until - time.monotonic())
            if wait <= 0:
                return False
            if select.select([self.fd], [], [], wait)[0]:
                return True
            if not noted and wait == SILENCE_NOTE:
                noted = True
                log.warning(
                    "%s: nothing came for %g s; still waiting (--deadline bounds the wait)", self.name_, wait
                )

    def _stop(self) -> int:
        self.stopped = f"the run's deadline (--deadline) passed after {self.read_bytes} byte(s); the rest was not read"
        return 0

    def close(self) -> None:
        if not self.closed and self.own:
            os.close(self.fd)
        super().close()


def _candidates(source: Source, name: str, until: float | None) -> Iterator[tuple[str, Any] | Problem]:
    """Yield ``(where, data)`` for every finding candidate, or a Problem, in source order."""
    if isinstance(source, RecordSource):
        for record in source.records():
            if isinstance(record, Problem):
                yield record
                continue
            where, data = record
            try:
                yield where, _checked(data)
            except (ValueError, RecursionError) as exc:
                yield where, Rejected(_hostile_reason(exc))
        return
    try:
        raw = _open(source, name, until)
    except OSError as exc:
        yield Problem(name, "", f"cannot open: {exc.strerror or exc}")
        return
    stream = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw, _CHUNK)  # type: ignore[type-var]
    try:
        if stream.peek(2)[:2] == _GZIP_MAGIC:
            gunzip = _Gunzip(stream)
            yield from _documents(io.BufferedReader(gunzip, _CHUNK), name)
            if gunzip.error and not (isinstance(raw, _Bounded) and raw.stopped):
                yield Problem(name, "", f"corrupt gzip stream after {gunzip.size} bytes: {gunzip.error}")
        else:
            yield from _documents(stream, name)
        if isinstance(raw, _Bounded) and raw.stopped:
            yield Problem(name, "", raw.stopped)
    except OSError as exc:
        yield Problem(name, "", f"cannot read: {exc.strerror or exc}")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


class _Gunzip(io.RawIOBase):
    """Inflate gzip (several members too) and stop, instead of raising, where the data is cut or corrupt.

    ``gzip.GzipFile`` drops the last decompressed block when the stream ends early; this keeps
    every byte that could be recovered, which is then read as truncated JSON (every complete
    finding kept). ``error`` says what was wrong.
    """

    def __init__(self, compressed: BinaryIO):
        self.compressed = compressed
        self.error: str | None = None
        self.size = 0
        self._inflater = zlib.decompressobj(wbits=31)
        self._block = b""
        self._position = 0
        self._finished = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._position >= len(self._block):
            if self._finished:
                return 0
            self._block, self._position = self._next_block(), 0
        count = min(len(buffer), len(self._block) - self._position)
        buffer[:count] = self._block[self._position : self._position + count]
        self._position += count
        self.size += count
        return count

    def _next_block(self) -> bytes:
        inflater = self._inflater
        if inflater.unconsumed_tail:
            data = inflater.unconsumed_tail
        elif inflater.eof and inflater.unused_data:
            data = inflater.unused_data
            inflater = self._inflater = zlib.decompressobj(wbits=31)
        else:
            data = self.compressed.read(_CHUNK)
            if not data:
                self._finished = True
                if not inflater.eof:
                    self.error = "the compressed data ends before its end marker (file cut short?)"
                return inflater.flush()
        try:
            return inflater.decompress(data, _CHUNK)
        except zlib.error as exc:
            self._finished = True
            self.error = f"corrupt compressed data: {exc}"
            return b""


def _documents(stream: BinaryIO, name: str) -> Iterator[tuple[str, Any] | Problem]:
    """Tell JSON lines from one JSON document by whether the first line parses on its own."""
    head = stream.peek(4)[:4]  # type: ignore[attr-defined]
    encoding = _wide_encoding(head)
    if encoding:
        data = _read_capped(stream, b"", wide=True)
        if data is None:
            yield _too_large(name)
            return
        text = data.decode(encoding, errors="replace").removeprefix("\ufeff")
        del data
        yield from _documents(io.BufferedReader(io.BytesIO(text.encode("utf-8"))), name)
        return
    if head.startswith(b"\x00"):
        yield Problem(name, "", "binary data, not JSON (it starts with a 0x00 byte)")
        return
    first = stream.readline(_MAX_LINE)
    while first and not first.strip():
        first = stream.readline(_MAX_LINE)
    if not first:
        yield Problem(name, "", "empty file: no JSON in it")
        return
    first = first.removeprefix(b"\xef\xbb\xbf")
    if len(first) >= _MAX_LINE and not first.endswith(b"\n"):
        if first.lstrip()[:1] in (b"[", b"{"):
            yield from _capped_document(stream, first, name)
        else:
            yield _not_json(first, name, "expected a JSON array or object")
        return
    try:
        document = _parse(first)
    except ValueError as exc:
        second = stream.readline(_MAX_LINE)
        if (document := _json_value(second)) is not None:
            # JSON lines whose first line is broken: report it, read on.
            yield from _whole_document(first, name, "line 1 ")
            yield from _expand(document, name, "line 2 ")
            yield from _json_lines(stream, name, start=3)
        elif first.lstrip()[:1] not in (b"[", b"{"):
            yield _not_json(first, name, str(exc))
        else:
            yield from _capped_document(stream, first + second, name)
        return
    more = bool(stream.peek(1))  # type: ignore[attr-defined]
    yield from _expand(document, name, "line 1 " if more else "")
    yield from _json_lines(stream, name, start=2)


def _not_json(first: bytes, name: str, error: str) -> Problem:
    snippet = first.lstrip()[:20].decode("utf-8", errors="replace")
    return Problem(name, "", f"not valid JSON: {error}; it starts with {snippet!r}")


def _wide_encoding(head: bytes) -> str | None:
    """UTF-16 or UTF-32, with or without a BOM, from where the zero bytes of the first character are
    (JSON text starts with an ASCII character, RFC 4627 section 3)."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "utf-32"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if len(head) < 4 or head == b"\x00\x00\x00\x00":
        return None
    if head[0] and head[1:] == b"\x00\x00\x00":
        return "utf-32-le"
    if head[:3] == b"\x00\x00\x00" and head[3]:
        return "utf-32-be"
    if head[0] and not head[1] and head[2] and not head[3]:
        return "utf-16-le"
    if not head[0] and head[1] and not head[2] and head[3]:
        return "utf-16-be"
    return None


def max_document_bytes() -> int:
    """The most read as one JSON document (``METAHUB_MAX_DOCUMENT_MB``, default 1024 MB): parsing
    it takes about ten times that in memory. JSON lines are read line by line, with no total limit."""
    value = os.environ.get("METAHUB_MAX_DOCUMENT_MB", "").strip()
    return (int(value) if value.isdigit() and int(value) > 0 else 1024) << 20


def _read_capped(stream: BinaryIO, start: bytes, *, wide: bool = False) -> bytes | None:
    """The rest of ``stream`` after ``start``, or None past the document limit (``/dev/urandom``)."""
    limit, size, chunks = max_document_bytes(), len(start), [start]
    while size <= limit and (chunk := stream.read(_CHUNK)):
        if not wide and chunk.count(0) == len(chunk):
            # Nothing but NULs: the padding of a file preallocated by a writer that crashed (or
            # /dev/zero). What came before is read; one NUL is kept so that the padding is reported.
            chunks.append(b"\x00")
            break
        chunks.append(chunk)
        size += len(chunk)
    return None if size > limit else b"".join(chunks)


def _too_large(name: str) -> Problem:
    return Problem(
        name,
        "",
        f"larger than {max_document_bytes() >> 20} MB, the most read as one JSON document "
        "(set METAHUB_MAX_DOCUMENT_MB to raise it, or write JSON lines); nothing was read from it",
    )


def _capped_document(stream: BinaryIO, start: bytes, name: str) -> Iterator[tuple[str, Any] | Problem]:
    data = _read_capped(stream, start)
    if data is None:
        yield _too_large(name)
    else:
        yield from _whole_document(data, name)


# Values JSON allows but that no output could write back: NaN and Infinity (not JSON), numbers
# beyond a double (read as infinity), nesting deeper than 200 levels (jiter's limit, below the
# serialisers' ~255), integers over 4,300 digits (CPython's limit) and lone UTF-16 surrogate
# escapes (not encodable as UTF-8). A finding holding one is rejected alone, with the reason.
MAX_DEPTH = 200
_NAN = "NaN or Infinity, which JSON does not allow"
_HOSTILE_REASONS = (
    (_NAN, _NAN),
    ("recursion limit exceeded", f"nested deeper than {MAX_DEPTH} levels"),
    ("number out of range", "an integer longer than 4,300 digits"),
    ("Out of range float", "a number beyond the range of a double (read as Infinity)"),
    ("Exceeds the limit", "an integer longer than 4,300 digits"),
    ("surrogates not allowed", "a lone UTF-16 surrogate, which no UTF-8 output can hold"),
)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _parse(data: bytes) -> Any:
    """JSON text to Python, refusing what no output could write back (ValueError)."""
    value = from_json(data, allow_inf_nan=False)
    # jiter reads a number beyond a double (1e999) as inf even with allow_inf_nan=False. Its
    # serialiser finds one in a quarter of the parse time; json.dumps confirms (text may say Infinity).
    if b"Infinity" in to_json(value, inf_nan_mode="constants"):
        json.dumps(value, allow_nan=False)
    return value


def _checked(data: Any) -> Any:
    """Already parsed data (an API response, a Lambda event) held to the same rules as files."""
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        if "Out of range float" in str(exc):  # a parsed NaN, Infinity or 1e999
            raise ValueError(_NAN) from None
        raise
    return from_json(text.encode("utf-8"), allow_inf_nan=False)  # depth and lone surrogates


def _hostile_reason(exc: Exception, data: bytes = b"") -> str:
    message = str(exc)
    for marker, reason in _HOSTILE_REASONS:
        if marker in message:
            return reason
    if "hex escape" in message and _SURROGATE_ESCAPE.search(data):
        return "a lone UTF-16 surrogate escape, which no UTF-8 output can hold"
    if isinstance(exc, RecursionError):
        return f"nested deeper than {MAX_DEPTH} levels"
    if re.search(rb"(?<![\"\w])-?(?:NaN|Infinity)\b", data):
        return _NAN
    return f"not valid JSON: {_column_only(message)}"


def _json_value(line: bytes) -> dict[str, Any] | list[Any] | None:
    """The array or object a line holds, or None."""
    try:
        value = _parse(line)
    except ValueError:
        return None
    return value if isinstance(value, (dict, list)) else None


def _json_lines(stream: BinaryIO, name: str, start: int) -> Iterator[tuple[str, Any] | Problem]:
    limit = max_document_bytes()
    number = start - 1
    while line := stream.readline(limit):
        number += 1
        if len(line) >= limit and not line.endswith(b"\n"):
            while (rest := stream.readline(_CHUNK)) and not rest.endswith(b"\n"):
                pass
            yield Problem(name, f"line {number}", f"longer than {limit >> 20} MB; skipped")
            continue
        if not line.strip():
            continue
        if line.lstrip().startswith((b"#", b"//")):
            yield Repair(name, f"line {number}", "a comment line, which JSON does not allow: skipped")
            continue
        try:  # parsed once here: the usual line costs one parse
            value = _parse(line.removeprefix(b"\xef\xbb\xbf"))
        except ValueError as exc:
            if line.lstrip()[:1] in (b"[", b"{") and str(exc).startswith("EOF while parsing"):
                # a line that opens a document and does not close it: a pretty-printed document
                # after the lines (two exports appended)
                document = _read_capped(stream, line)
                if document is None:
                    yield _too_large(name)
                else:
                    yield from _sequence(document.decode("utf-8", errors="replace"), name, first_line=number)
                return
            yield from _whole_document(line, name, f"line {number} ")  # its damage, named and mended
            continue
        yield from _expand(value, name, f"line {number} ")


def _column_only(message: str) -> str:
    return message.replace(" at line 1 column ", " at column ")


def _whole_document(data: bytes, name: str, prefix: str = "") -> Iterator[tuple[str, Any] | Problem]:
    data = data.removeprefix(b"\xef\xbb\xbf")  # a BOM on each line: what some Windows tools write
    try:
        document = _parse(data)
    except ValueError as exc:
        message = str(exc)
        if padded := _padding(data):
            yield Repair(
                name,
                prefix.strip(),
                f"NUL padding from byte {len(data) - padded} on ignored (a file preallocated by a writer that stopped?)",
            )
            yield from _whole_document(data[: len(data) - padded], name, prefix)
        elif message.startswith("control character") and (escaped := _escaped_if_it_helps(data)) is not None:
            yield _control_repair(data, name, prefix)
            yield from _whole_document(escaped, name, prefix)
        elif message.startswith("invalid unicode code point"):
            yield from _replaced(data, name, prefix)
        elif message.startswith("trailing comma") and (mended := _without_trailing_commas(data))[1]:
            yield Repair(
                name,
                prefix.strip(),
                f"{mended[1]} trailing comma(s) (first at line {mended[2]}), which JSON does not allow: skipped",
            )
            yield from _whole_document(mended[0], name, prefix)
        elif message.startswith("trailing characters at line "):
            # Several documents one after another: `cat a.json b.json`, a stray line appended, JSON
            # lines whose first line is very long. Each is read; only what is not JSON is lost.
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:  # and a byte that is not UTF-8 among them
                yield from _replaced(data, name, prefix)
                return
            yield from _sequence(text, name)
        else:
            yield from _salvage(data, name, _hostile_reason(exc, data), prefix)
        return
    del data
    yield from _expand(document, name, prefix)


_TRAILING_COMMA = re.compile(rb'"(?:[^"\\]|\\.)*"|,(?=\s*[}\]])', re.DOTALL)


def _without_trailing_commas(data: bytes) -> tuple[bytes, int, int]:
    """The JSON without the commas that close an array or object (``[1, 2,]``, what JavaScript and
    hand-edited files allow), how many there were and the line of the first; strings are kept."""
    dropped: list[int] = []

    def drop(match: re.Match[bytes]) -> bytes:
        if match.group() == b",":
            dropped.append(match.start())
            return b""
        return match.group()

    mended = _TRAILING_COMMA.sub(drop, data)
    return mended, len(dropped), data.count(b"\n", 0, dropped[0]) + 1 if dropped else 0


def _replaced(data: bytes, name: str, prefix: str = "") -> Iterator[tuple[str, Any] | Problem]:
    """Bytes that are not UTF-8 (one in a title) become U+FFFD, and are reported: the findings
    around them are read, instead of everything after the first such byte being lost."""
    try:
        data.decode("utf-8")
        bad = 0
    except UnicodeDecodeError as exc:
        bad = exc.start
    text = data.decode("utf-8", errors="replace")
    line = data.count(b"\n", 0, bad) + 1
    yield Repair(
        name,
        prefix.strip() or f"line {line}",
        f"not UTF-8: byte 0x{data[bad]:02x} at offset {bad} (and any others) read as U+FFFD",
    )
    del data
    yield from _whole_document(text.encode("utf-8"), name, prefix)


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_CONTROL = re.compile(rb"[\x00-\x1f]")


def _escape_controls(data: bytes) -> bytes:
    """Raw control characters inside strings (JSON requires them escaped: a NUL, a TAB pasted into
    a title) written as ``\\u00XX``; between tokens, where JSON allows whitespace, nothing changes."""
    return _STRING.sub(lambda m: _CONTROL.sub(lambda c: b"\\u%04x" % c.group()[0], m.group()), data)


def _escaped_if_it_helps(data: bytes) -> bytes | None:
    """Escaped raw control characters, when that leaves valid JSON or several documents in a row
    (JSON lines); None when the damage is elsewhere (see :func:`_parsed_escaped`)."""
    escaped = _escape_controls(data)
    if escaped == data:
        return None
    try:
        _parse(escaped)
    except ValueError as exc:
        return escaped if str(exc).startswith("trailing characters") else None
    return escaped


def _parsed_escaped(data: bytes) -> Any:
    """The document with raw control characters inside its strings escaped, when that makes it
    parse; None otherwise (a broken quote makes every line break look "inside a string", and
    escaping those would only spread the damage: the salvage reads around it instead)."""
    escaped = _escape_controls(data)
    if escaped == data:
        return None
    try:
        return _parse(escaped)
    except ValueError:
        return None


def _control_repair(data: bytes, name: str, where: str) -> Repair:
    found = [c for m in _STRING.finditer(data) for c in _CONTROL.findall(m.group())]
    return Repair(
        name,
        where.strip(),
        f"{len(found)} raw control character(s) inside strings (first: 0x{found[0][0]:02x}), which JSON "
        "requires escaped: read escaped",
    )


def _padding(data: bytes) -> int:
    """How many trailing NUL / whitespace bytes follow the last JSON byte, when NULs are among them."""
    kept = data.rstrip(b"\x00 \t\r\n")
    return len(data) - len(kept) if b"\x00" in data[len(kept) :] else 0


_NEXT_DOCUMENT = re.compile(r"\n[ \t]*[\[{]")


def _sequence(text: str, name: str, first_line: int = 1) -> Iterator[tuple[str, Any] | Problem]:
    """JSON documents one after another, each at ``line N`` where it starts; what does not parse is
    reported and skipped up to the next line that starts a document."""
    position, commas = 0, 0
    while True:
        while position < len(text) and text[position] in " \t\r\n\ufeff,":  # a BOM per document: `cat a b`
            commas += text[position] == ","  # objects listed with commas but no brackets: `{...},\n{...}`
            position += 1
        if position >= len(text):
            break
        line = text.count("\n", 0, position) + first_line
        try:
            end = _value_end(text, position)
        except json.JSONDecodeError as exc:
            resume = _NEXT_DOCUMENT.search(text, position)
            skipped = (
                f"; read on from line {text.count(chr(10), 0, resume.start()) + first_line + 1}"
                if resume
                else ""
            )
            yield Problem(
                name,
                f"line {line}",
                f"not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno}){skipped}",
            )
            if resume is None:
                break
            position = resume.start() + 1
            continue
        yield from _whole_document(text[position:end].encode("utf-8"), name, f"line {line} ")
        position = end
    if commas:
        yield Repair(
            name,
            f"line {first_line}",
            f"{commas} comma(s) between documents, which JSON does not allow: skipped",
        )


def _expand(document: Any, name: str, prefix: str) -> Iterator[tuple[str, Any] | Problem]:
    """Unwrap arrays, ``{"Findings": [...]}`` and EventBridge events down to finding candidates.

    Array slots are cleared as they are handed out, so a finding's raw dict is freed once
    it is validated instead of living as long as the whole document.
    """
    if isinstance(document, list):
        for index in range(len(document)):
            item, document[index] = document[index], None
            yield from _expand_item(item, name, f"{prefix}[{index}]")
    elif isinstance(document, dict):
        findings = document.get("Findings")
        lowercase = document.get("findings") if findings is None and "detail" not in document else None
        if isinstance(findings, list):
            yield from _expand(findings, name, f"{prefix}.Findings")
        elif isinstance(lowercase, list) and not any(key in document for key in _FINDING_KEYS):
            yield from _expand(lowercase, name, f"{prefix}.findings")
        else:
            yield from _expand_item(document, name, prefix.strip() or "document")
    else:
        where = prefix.strip() or "document"
        yield Problem(name, where, f"expected a JSON array or object of findings, got {_json_type(document)}")


def _expand_item(item: Any, name: str, where: str) -> Iterator[tuple[str, Any] | Problem]:
    if isinstance(item, dict) and isinstance(item.get("detail"), dict) and "findings" in item["detail"]:
        findings = item["detail"]["findings"]
        if not isinstance(findings, list):
            yield Problem(
                name, f"{where}.detail.findings", "EventBridge event whose findings are not an array"
            )
            return
        for index, finding in enumerate(findings):
            yield (f"{where}.detail.findings[{index}]", finding)
    else:
        yield (where, item)


# --- damaged documents -----------------------------------------------------------------------

_ARRAY_START = re.compile(r'\s*(?:\[|\{\s*"([Ff]indings)"\s*:\s*\[)')
_SEPARATOR = re.compile(r"\s*(,|\])?\s*")
_EXTRA_COMMA = re.compile(r",\s*")
_COMMENT = re.compile(r"(?:/\*.*?\*/|//[^\n]*|#[^\n]*)\s*,?\s*", re.DOTALL)
"""A comment between findings (``/* ... */``, ``// ...``, ``# ...``): no JSON, but hand-edited files
and some tools' exports hold them."""
# Finds where a value ends without building it: big integers stay text, NaN is let through,
# so that a hostile value is rejected by _parse with its reason and the next value is read.
_SCAN = json.JSONDecoder(parse_int=str, parse_float=str, parse_constant=str, strict=False).raw_decode
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def _value_end(text: str, position: int) -> int:
    """Where the JSON value starting at ``position`` ends; JSONDecodeError when it is not JSON."""
    try:
        return _SCAN(text, position)[1]
    except RecursionError:  # thousands of levels deep: count brackets instead of recursing
        depth = 0
        for token in _TOKEN.finditer(text, position):
            bracket = token.group()
            if bracket in ("[", "{"):
                depth += 1
            elif bracket in ("]", "}"):
                depth -= 1
                if depth == 0:
                    return token.end()
        raise json.JSONDecodeError("unterminated value", text, position) from None


def _salvage(data: bytes, name: str, parse_error: str, prefix: str) -> Iterator[tuple[str, Any] | Problem]:
    """A document that does not parse: read each finding of it alone, so a hostile value costs
    only its finding, and keep every complete finding before the point where the JSON breaks.

    Only arrays of findings (bare or under ``"Findings"``) can be salvaged; anything else is
    reported as one unreadable source.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:  # a character cut at the end of the file, say
        line = data.count(b"\n", 0, exc.start) + 1
        yield Repair(
            name,
            "",
            f"not UTF-8: byte 0x{data[exc.start]:02x} at byte {exc.start} (line {line}) ({exc.reason}), "
            "read as U+FFFD",
        )
        text = data.decode("utf-8", errors="replace")
    del data
    start = _ARRAY_START.match(text)
    if not start:
        if parse_error:
            yield Problem(name, prefix.strip(), parse_error)
        return
    key = f"{prefix}.{start.group(1)}" if start.group(1) else prefix.rstrip()
    position, index, rejected, comments, commas, broken = start.end(), 0, 0, 0, 0, False
    while True:
        separator = _SEPARATOR.match(text, position)
        assert separator is not None  # the pattern matches the empty string
        if separator.group(1) == "]" or separator.end() == len(text):
            break
        position = separator.end()
        while skipped := _COMMENT.match(text, position) or _EXTRA_COMMA.match(text, position):
            commas += skipped.group().startswith(",")
            comments += not skipped.group().startswith(",")
            position = skipped.end()
        if text.startswith("]", position):
            commas += separator.group(1) == ","  # a trailing comma: `[{...}, {...},]`
            break
        try:
            end = _value_end(text, position)
        except json.JSONDecodeError as exc:
            resume = _next_finding(text, position + 1)
            read_on = (
                f"that finding is lost, read on from line {text.count(chr(10), 0, resume) + 1}"
                if resume is not None
                else f"the {index} complete finding(s) before it were read"
            )
            yield Problem(
                name,
                prefix.strip(),
                f"not valid JSON at line {exc.lineno} column {exc.colno} (inside {key}[{index}]): {exc.msg}; {read_on}",
            )
            if resume is None:
                return
            position, index, broken = resume, index + 1, True
            continue
        item = text[position:end].encode("utf-8")
        try:
            value = _parse(item)
        except ValueError as exc:
            if str(exc).startswith("control character") and (value := _parsed_escaped(item)) is not None:
                yield _control_repair(item, name, f"{key}[{index}]")
                yield from _expand_item(value, name, f"{key}[{index}]")
            else:
                rejected += 1
                yield f"{key}[{index}]", Rejected(_hostile_reason(exc, item))
        else:
            yield from _expand_item(value, name, f"{key}[{index}]")
        position, index = end, index + 1
    for count, what in ((comments, "comment(s)"), (commas, "extra comma(s)")):
        if count:
            yield Repair(name, prefix.strip(), f"{count} {what}, which JSON does not allow: skipped")
    if not (comments or commas) and parse_error and not rejected and not broken:
        yield Problem(
            name,
            prefix.strip(),
            f"{parse_error}; the {index} complete finding(s) before it were read",
        )


_OBJECT = re.compile(r"\{")
_RESYNC_CHARS = 8 << 20


def _next_finding(text: str, start: int) -> int | None:
    """Where the next whole finding starts after damage: the first ``{`` that opens an object which
    parses and looks like a finding (an ``Id`` and ASFF's ``ProductArn``, ``AwsAccountId`` or
    ``SchemaVersion``, or OCSF's ``finding_info``), so that a broken finding costs only itself. A
    nested object of the broken finding (a resource, a severity) has not those keys."""
    for tried, candidate in enumerate(_OBJECT.finditer(text, start, start + _RESYNC_CHARS)):
        if tried >= 5_000:
            return None
        try:
            end = _value_end(text, candidate.start())
            value = json.loads(text[candidate.start() : end], strict=False)
        except (json.JSONDecodeError, ValueError, RecursionError):
            continue
        if isinstance(value, dict) and (
            "finding_info" in value or ("Id" in value and any(k in value for k in _FINDING_KEYS[1:]))
        ):
            return candidate.start()
    return None


@dataclass(frozen=True)
class Rejected:
    """A finding candidate whose JSON holds a value no output could write back."""

    reason: str
