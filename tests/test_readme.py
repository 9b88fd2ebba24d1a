"""Every example in the README runs as written: its command lines against the emulated lab account and
its Security Hub, its Python as a notebook would run it, its JSON parses; the top ten it shows is the
demo's, and the policy it shows is the one shipped. A README example that stops working fails here."""

from __future__ import annotations

import glob
import gzip
import io
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import pytest

import metahub
from metahub.cli import COMMANDS, main
from metahub.html_report import label
from metahub.ranking import why

from .conftest import HUB_REGION, OCSF_FIXTURE, emulator_environment
from .securityhub_v2_endpoint import SecurityHubV2, samples, serving

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
FENCE = re.compile(r"^( *)```(\w+)\n(.*?)^\1```$", re.MULTILINE | re.DOTALL)
BLOCKS = [
    (m.group(2), textwrap.dedent(m.group(3)), README.count("\n", 0, m.start()) + 1)
    for m in FENCE.finditer(README)
]
NOT_RUN = {
    "make test": "it is the command that runs this test",
    "make demo": "the Makefile's demo target is `metahub --demo`, run by tests/test_outputs.py",
    "make lambda-package": "it builds wheels for Lambda's platform; the template is linted in tests/test_lambda.py",
    "aws": "it acts on a real AWS account (its JSON is parsed below)",
}
"""Command lines the README shows that this test does not run, each with the reason."""
READS_NOTHING = {
    "--sh-account": "it reads another account's hub, which the emulator holds empty",
}
"""Command lines that read no finding on the emulator, and why; every other one must read some."""
STATUS = {
    "--enrich-findings": (3, "the emulator has no BatchUpdateFindings; tests/test_actions.py stubs it"),
}
"""Command lines whose exit status on the emulator is not 0, and why; every other one must give 0."""
TEMPLATE = "SeverityLabel:\n  - Value: CRITICAL\n    Comparison: EQUALS\n"


def commands() -> list[tuple[int, str]]:
    """(README line, command) for each command line of the shell blocks: continuations and quotes
    that span lines joined, as a shell reads them."""
    found = []
    for lang, text, line in BLOCKS:
        if lang != "sh":
            continue
        pending, start = "", 0
        for offset, part in enumerate(text.splitlines(), 1):
            pending, start = (pending + "\n" + part, start) if pending else (part, offset)
            if pending.endswith("\\"):
                pending = pending[:-1]
                continue
            try:
                shlex.split(pending)
            except ValueError:  # a quote still open
                continue
            if pending.strip():
                found.append((line + start, " ".join(pending.split())))
            pending = ""
    return found


def custom_checks() -> tuple[str, str, str]:
    """The README's own-checks example: (file, command, code), from its first line
    ``# my_checks/x.py  ->  metahub ...``."""
    for lang, text, _ in BLOCKS:
        first = text.splitlines()[0]
        if lang == "python" and (m := re.match(r"# (\S+\.py)\s+->\s+(metahub .+)$", first)):
            return m.group(1), m.group(2), text
    raise AssertionError("the README lost its example of a custom check")


def test_every_block_is_of_a_kind_this_test_runs() -> None:
    assert {lang for lang, _, _ in BLOCKS} <= {"sh", "python", "json", "yaml"}
    for line, command in commands():
        word = shlex.split(command, comments=True)[0]
        assert word == "metahub" or any(command.startswith(k) for k in NOT_RUN), (line, command)


def test_the_top_ten_is_the_demos(enriched_lab: metahub.Run) -> None:
    """The demo reads the whole bundled scan and enriches it from the lab account, as enriched_lab."""
    shown = README.split("<!-- top-ten")[1].split("<!-- /top-ten -->")[0].splitlines()
    rows = [line for line in shown if re.match(r"\| \d+ \|", line)]
    top = list(enriched_lab.by_impact().values())[:10]
    expected = [
        f"| {i} | {label(r)} | {r.type} | {r.region} | {r.worst_failed_severity} | {why(r)} |"
        for i, r in enumerate(top, 1)
    ]
    assert rows == expected


def test_the_policy_shown_is_the_one_shipped() -> None:
    shown = README.split("<!-- policy:")[1].split("```json")[1].split("```")[0]
    shipped = ROOT / "metahub" / "config" / "policy-context-read-only.json"
    assert json.loads(shown) == json.loads(shipped.read_text())


def test_json_examples_are_the_demos(enriched_lab: metahub.Run) -> None:
    """The policy aside, a JSON example shows part of a resource's json-short document: each value
    it shows is the demo's own."""
    for lang, text, line in BLOCKS:
        if lang != "json" or "MetahubContextReadOnly" in text:
            continue
        try:
            example = json.loads(text)
        except ValueError as exc:
            pytest.fail(f"README line {line}: {exc}")
        for arn, shown in example.items():
            real = enriched_lab.resources[arn].context()
            for key, values in shown.items():
                assert {k: real[key][k] for k in values} == values, (line, key)
    for line, command in commands():  # the role's trust policy, inline in an aws command
        words = shlex.split(command, comments=True)
        if "--assume-role-policy-document" in words:
            trust = json.loads(words[words.index("--assume-role-policy-document") + 1])
            assert trust["Statement"][0]["Action"] == "sts:AssumeRole", line


@pytest.fixture()
def workdir(tmp_path: Path, in_hub: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The files the README's commands name, made from the lab scan: the findings that are also in
    the emulated Security Hub (failed, on buckets and instances), a gzip'd extra, the OCSF twin,
    and those findings as two accounts' files (buckets, instances)."""
    for name in ("prowler.asff.json", "findings.json", "prowler.json", "scan.json"):
        (tmp_path / name).write_text(json.dumps(in_hub))
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "prowler-output-123456789012.asff.json").write_text(json.dumps(in_hub))
    (tmp_path / "more.json.gz").write_bytes(gzip.compress(json.dumps(in_hub[:5]).encode()))
    for account, kind in (("111111111111", "AwsS3Bucket"), ("222222222222", "AwsEc2Instance")):  # named parts
        part = [f for f in in_hub if f["Resources"][0]["Type"] == kind]
        (tmp_path / f"{account}.json").write_text(json.dumps(part))
    (tmp_path / "prowler.ocsf.json").write_bytes(gzip.decompress(OCSF_FIXTURE.read_bytes()))
    (tmp_path / "critical-prod.yml").write_text(TEMPLATE)
    (mutelist,) = [text for lang, text, _ in BLOCKS if lang == "yaml" and text.startswith("Mutelist:")]
    (tmp_path / "mutelist.yaml").write_text(mutelist)  # the README's own examples
    (routing,) = [text for lang, text, _ in BLOCKS if lang == "yaml" and text.startswith("owners:")]
    (tmp_path / "routing.yaml").write_text(routing)
    path, _, code = custom_checks()
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text(code)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _argv(command: str, workdir: Path) -> tuple[list[str], Path | None]:
    """The words after ``metahub``, globs expanded as a shell would; and a file redirected to stdin."""
    words = shlex.split(command, comments=True)[1:]
    stdin = None
    if "<" in words:
        at = words.index("<")
        stdin, words = workdir / words[at + 1], words[:at] + words[at + 2 :]
    argv = []
    for word in words:
        argv.extend((sorted(glob.glob(word)) or [word]) if "*" in word else [word])
    return argv, stdin


def runs() -> list[tuple[int, list[str]]]:
    """What each case runs: one command line; or, for a block with a ``metahub merge``, a ``metahub
    diff`` or a ``--replay-context``, the whole block in order (they read what the lines before
    them wrote)."""
    merging = [(line, line + text.count("\n")) for lang, text, line in BLOCKS
               if any(word in text for word in ("metahub merge ", "metahub diff ", "--replay-context"))]  # fmt: skip
    cases: list[tuple[int, list[str]]] = []
    together: dict[int, list[str]] = {}
    for line, command in commands():
        if not command.startswith("metahub "):
            continue
        block = next((start for start, end in merging if start <= line <= end), None)
        if block is None:
            cases.append((line, [command]))
        elif block not in together:
            together[block] = [command]
            cases.append((line, together[block]))
        else:
            together[block].append(command)
    return cases


RUN = [*runs(), (0, [custom_checks()[1]])]


@pytest.mark.parametrize(("line", "lines"), RUN, ids=[f"line-{line}" for line, _ in RUN])
def test_a_readme_command_line(
    line: int,
    lines: list[str],
    workdir: Path,
    lab_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    for command in lines:
        _run_as_written(line, command, workdir, lab_endpoint, monkeypatch, capsys)


def _run_as_written(
    line: int, command: str, workdir: Path, lab_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    argv, stdin = _argv(command, workdir)
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin.read_bytes())))
    with emulator_environment(lab_endpoint), ExitStack() as stack:
        monkeypatch.setenv("AWS_DEFAULT_REGION", HUB_REGION)  # where the lab's findings are in the hub
        if "securityhub-v2" in argv:  # the new Security Hub: a local endpoint of its API, v1 passed to moto
            hub = SecurityHubV2(samples(), upstream=lab_endpoint, s3_endpoint=lab_endpoint, export_polls=0)
            monkeypatch.setenv("AWS_ENDPOINT_URL_SECURITYHUB", stack.enter_context(serving(hub)))
            if "--sh-export" in argv:
                bucket = argv[argv.index("--sh-export") + 1].split("/")[2]
                boto3.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": HUB_REGION})
        named = bool(argv) and argv[0] in COMMANDS  # metahub list-checks ...: no banner to turn off
        status = main(argv if named else ["--no-banners", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    expected = next((status for flag, (status, _) in STATUS.items() if flag in argv), 0)
    assert status == expected, f"README line {line}: {command}\n{err}"
    if "--list-findings" in argv:
        assert json.loads(out)
    elif not named and "--list-meta-checks" not in argv and not any(flag in argv for flag in READS_NOTHING):
        assert re.search(r"[1-9][\d,]* findings read", err), err  # each example reads something


def test_the_notebook_example(workdir: Path) -> None:
    """The Python section, as a notebook runs it: in a process of its own (its emulated account must
    not meet the lab's, which moto keeps in this process), with no AWS configuration."""
    (code,) = [text for lang, text, _ in BLOCKS if lang == "python" and text.startswith("import metahub")]
    code += (
        "\nimport json\nprint(json.dumps({'enriched': run.enrichment.enriched, "
        "'first': first.verdict('is_public'), 'public': len(frame[frame['verdict.is_public'] == 'true'])}))\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ.update(AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=workdir, env=environ, timeout=600
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["enriched"] > 2000 and result["first"] == "true" and result["public"] >= 10
    assert (workdir / "outputs" / "demo.html").exists()


def test_yaml_examples_are_files_metahub_reads(tmp_path: Path) -> None:
    """A YAML example is a mutelist, a routing file or its tickets section, and metahub reads it as
    written."""
    from metahub.detection import load_routing
    from metahub.mutelist import parse

    yamls = [(text, line) for lang, text, line in BLOCKS if lang == "yaml"]
    assert len(yamls) == 3
    for text, line in yamls:
        if text.startswith("Mutelist:"):
            assert parse(text, f"README line {line}").entries
        elif text.startswith("tickets:"):
            path = tmp_path / "routing.yaml"
            path.write_text("owners: {fallback: security@example.com}\n" + text)
            assert set(load_routing(path)["tickets"]["jira"]) == {"Team", "components", "labels"}
        else:
            path = tmp_path / "routing.yaml"
            path.write_text(text)
            assert load_routing(path)["owner"]["fallback"] == "security@example.com"
