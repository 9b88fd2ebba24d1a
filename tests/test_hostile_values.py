"""Values JSON parsers accept but no output can write back cost only the finding holding them.

RFC 8259 section 6: "Numeric values that cannot be represented ... (such as Infinity and NaN) are
not permitted"; section 8.2: a string with an unpaired surrogate has unpredictable behaviour; section
9: a parser may limit nesting depth and number size. Each such value rejects its finding with the
reason, everything around it is read, and every output stays valid JSON.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import metahub
from metahub.ingest import IngestReport, Problem, read_findings

from .conftest import ASFF_FIXTURE, OCSF_FIXTURE, make_finding, metahub_cli

# (name, JSON text of one extra field, what the rejection must say)
HOSTILE = [
    ("huge-int", "9" * 5000, "an integer longer than 4,300 digits"),
    ("deep-300", "[" * 300 + "]" * 300, "nested deeper than 200 levels"),
    ("deep-5000", '{"a":' * 5000 + "1" + "}" * 5000, "nested deeper than 200 levels"),
    ("lone-surrogate", '"x\\ud800y"', "lone UTF-16 surrogate"),
    ("lone-trailing-surrogate", '"\\udc00"', "lone UTF-16 surrogate"),
    ("nan", "NaN", "NaN or Infinity"),
    ("infinity", "-Infinity", "NaN or Infinity"),
    ("overflow", "1e999", "beyond the range of a double"),
]


def _with(extra: str, finding_id: str) -> str:
    return json.dumps(make_finding(finding_id))[:-1] + f', "Extra": {extra}}}'


def _layouts(extra: str) -> dict[str, str]:
    good = [json.dumps(make_finding(i)) for i in ("a-0", "a-2")]
    bad = _with(extra, "a-1")
    return {
        "array": "[\n" + ",\n".join([good[0], bad, good[1]]) + "\n]",
        "wrapper": '{"Findings": [' + ", ".join([good[0], bad, good[1]]) + "]}",
        "json-lines": "\n".join([good[0], bad, good[1]]) + "\n",
        "concatenated": f"[{good[0]}]\n[{bad}, {good[1]}]\n",
        "event": json.dumps({"detail-type": "x", "detail": {"findings": [make_finding("a-0")]}})
        + "\n"
        + json.dumps({"detail-type": "x", "detail": {"findings": [make_finding("a-2")]}})
        + "\n"
        + '{"detail-type": "x", "detail": {"findings": ['
        + bad
        + "]}}\n",
    }


@pytest.mark.parametrize("layout", ["array", "wrapper", "json-lines", "concatenated", "event"])
@pytest.mark.parametrize(("kind", "extra", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_value_costs_only_its_finding(
    tmp_path: Path, layout: str, kind: str, extra: str, reason: str
) -> None:
    path = tmp_path / f"{kind}.json"
    path.write_text(_layouts(extra)[layout])
    run = metahub.load(path)
    assert sorted(f.Id for f in run.findings) == ["a-0", "a-2"]
    (problem,) = run.report.problems
    assert reason in problem.reason, problem


def test_every_output_stays_valid_json(tmp_path: Path) -> None:
    findings = [json.dumps(make_finding(f"good-{i}", arn=f"arn:aws:s3:::b-{i}")) for i in range(3)]
    hostile = [_with(extra, f"bad-{kind}") for kind, extra, _ in HOSTILE]
    (tmp_path / "in.json").write_text("[" + ",\n".join(findings + hostile) + "]")
    modes = ["json-full", "json-short", "json-inventory", "json-statistics", "csv", "html", "sqlite"]
    result = metahub_cli(
        "--input-asff", "in.json", "--output-modes", *modes, "--output-dir", "out", cwd=tmp_path
    )
    assert result.returncode == 1, result.stderr  # 1: some findings were rejected; every output written
    assert "Traceback" not in result.stderr and "could not write" not in result.stderr

    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} in an output")

    outputs = list((tmp_path / "out").glob("metahub-*.json"))
    assert len(outputs) == 4
    for output in outputs:
        json.loads(output.read_text(encoding="utf-8"), parse_constant=refuse)
    for _, _, reason in HOSTILE:
        assert reason in result.stderr
    (database,) = (tmp_path / "out").glob("metahub-*.sqlite")
    with sqlite3.connect(database) as db:  # json_extract on these fails on anything that is not JSON
        (invalid,) = db.execute("select count(*) from findings where not json_valid(asff)").fetchone()
        (rows,) = db.execute("select count(*) from findings").fetchone()
        assert rows == 3 and invalid == 0
        assert db.execute("select json_extract(asff, '$.Id') from findings").fetchall()


class _Records:
    """Findings that arrive already parsed, as from an API or a Lambda event."""

    name = "api"

    def __init__(self, records: list[Any]):
        self._records = records

    def records(self) -> Any:
        for index, record in enumerate(self._records):
            yield f"[{index}]", record


def test_parsed_records_are_held_to_the_same_rules() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(300):
        node["a"] = {}
        node = node["a"]
    bad = [
        make_finding("nan", Extra=float("nan")),
        make_finding("inf", Extra=[float("inf")]),
        make_finding("surrogate", Title="x\ud800"),
        make_finding("deep", Extra=deep),
        make_finding("big", Extra=10**5000),
    ]
    report = IngestReport()
    findings = read_findings([_Records([make_finding("ok-1"), *bad, make_finding("ok-2")])], report)
    assert [f.Id for f in findings] == ["ok-1", "ok-2"]
    assert [p.where for p in report.rejected] == ["[1]", "[2]", "[3]", "[4]", "[5]"]


# --- OCSF type confusion --------------------------------------------------------------------


def _first(fixture: Path) -> dict[str, Any]:
    with gzip.open(fixture) as fh:
        return dict(json.load(fh)[0])


def _ocsf() -> dict[str, Any]:
    return _first(OCSF_FIXTURE)


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("resources",), 5, "resources: expected an array, got a number"),
        (("resources",), [5], "resources[0]: expected an object, got a number"),
        (("severity_id",), [1], "severity_id: expected"),
        (("finding_info", "created_time"), 1e300, "finding_info.created_time: 1e+300 is not a time"),
        (("finding_info", "created_time"), -5, "is not a time"),
        (("finding_info", "created_time"), "yesterday", "finding_info.created_time: expected"),
        (("cloud",), "aws", "cloud: expected an object, got a string"),
        (("cloud", "account", "uid"), 123456789012, "cloud.account.uid: expected a string, got a number"),
        (("finding_info",), [], "finding_info: expected an object"),
    ],
)
def test_ocsf_fields_of_the_wrong_type_reject_the_finding(
    path: tuple[str, ...], value: Any, reason: str
) -> None:
    finding = _ocsf()  # its text severity is kept: a severity_id of the wrong type is refused all the same
    node = finding
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    report = IngestReport()
    assert read_findings([io.BytesIO(json.dumps([finding, _ocsf()]).encode())], report) != []
    (problem,) = report.rejected
    assert reason in problem.reason, problem


def test_ocsf_labels_of_the_wrong_type() -> None:
    finding = _ocsf()
    finding["resources"][0].pop("data", None)
    finding["resources"][0]["labels"] = 7
    report = IngestReport()
    read_findings([io.BytesIO(json.dumps([finding]).encode())], report)
    assert "resources[0].labels: expected an array, got a number" in report.rejected[0].reason


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Any:
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value[:2])
    else:
        return
    for key, child in items:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key))


@pytest.mark.parametrize("load", [_ocsf, lambda: _first(ASFF_FIXTURE)], ids=["ocsf", "asff"])
def test_no_field_of_any_type_escapes_as_an_exception(load: Callable[[], dict[str, Any]]) -> None:
    """Every field of a real finding, replaced by every JSON type: a finding or a reason, never a crash."""
    original = load()
    values: list[Any] = [5, -1, 1e300, 10**30, True, None, "", "x", [], [1], ["x"], {}, {"a": 1}]
    variants = 0
    for path in _paths(original):
        for value in values:
            finding = copy.deepcopy(original)
            node = finding
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            report = IngestReport()
            read = read_findings([io.BytesIO(json.dumps([finding]).encode())], report)
            assert len(read) + len(report.rejected) == 1, (path, value, report.problems)
            variants += 1
    assert variants > 500


# --- encodings and endless input ----------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-16", "utf-32"])
@pytest.mark.parametrize("lines", [False, True], ids=["document", "json-lines"])
def test_wide_encodings_with_or_without_a_bom(tmp_path: Path, encoding: str, lines: bool) -> None:
    """RFC 4627 section 3: the encoding of JSON text shows in the zero bytes of its first characters."""
    findings = [make_finding(f"f-{i}") for i in range(3)]
    text = "\n".join(json.dumps(f) for f in findings) if lines else json.dumps(findings, indent=2)
    path = tmp_path / "wide.json"
    path.write_bytes(text.encode(encoding))
    run = metahub.load(path)
    assert len(run.findings) == 3 and not run.report.problems


def test_utf16_with_a_first_line_over_4_mb(tmp_path: Path) -> None:
    findings = [make_finding(f"f-{i}", Description="d" * 1000) for i in range(5000)]
    path = tmp_path / "wide.json"
    path.write_bytes(json.dumps(findings).encode("utf-16"))
    assert path.stat().st_size > 8 << 20
    assert len(metahub.load(path).findings) == 5000


class _Endless(io.RawIOBase):
    def __init__(self, start: bytes, fill: bytes):
        self.start, self.fill, self.served = start, fill, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self.start if self.served == 0 and self.start else self.fill * (len(buffer) // len(self.fill))
        size = min(len(buffer), len(chunk))
        buffer[:size] = chunk[:size]
        self.served += size
        return size


@pytest.mark.parametrize(
    ("start", "fill", "reason"),
    [
        (b"", b"\x00", "binary data, not JSON"),  # /dev/zero
        (b"[\n", b"\x00", "NUL padding from byte 1 on ignored"),  # read up to the padding: no finding there
        (b"[\n", b" ", "larger than 8 MB, the most read as one JSON document"),
        (b"", b"not json ", "not valid JSON"),
    ],
)
def test_endless_input_ends_with_a_clear_problem(
    monkeypatch: pytest.MonkeyPatch, start: bytes, fill: bytes, reason: str
) -> None:
    monkeypatch.setenv("METAHUB_MAX_DOCUMENT_MB", "8")
    report = IngestReport()
    stream = _Endless(start, fill)
    assert read_findings([io.BufferedReader(stream)], report) == []
    assert any(isinstance(p, Problem) and reason in p.reason for p in report.problems), report.problems
    assert len(report.problems) <= 2  # the padding, and that what came before it is no JSON
    assert stream.served < 64 << 20
