"""Random damage to a real sample never breaks the reader: truncations, byte flips and insertions of
the bundled demo's findings, seeded so a failure replays. For JSON lines every line the damage did
not touch is read; for one JSON array, at most the damaged finding is lost (all before a cut are
read). No byte sequence raises, and the whole campaign is bounded (a few seconds)."""

from __future__ import annotations

import io
import json
import random

import pytest

from metahub.ingest import IngestReport, read_findings

from .test_damaged_inputs import SAMPLE

LINES = [json.dumps(f).encode() for f in SAMPLE]
JSONL = b"\n".join(LINES) + b"\n"
ARRAY = json.dumps(SAMPLE, indent=1).encode()
CASES = 150


def _ends(text: str) -> list[int]:
    """Where each finding of the array ends (the offset after its closing brace)."""
    decoder, ends, position = json.JSONDecoder(), [], text.index("[") + 1
    while True:
        while text[position] in " \n,":
            position += 1
        if text[position] == "]":
            return ends
        position = decoder.raw_decode(text, position)[1]
        ends.append(position)


ENDS = _ends(ARRAY.decode())


def _damage(data: bytes, rng: random.Random) -> tuple[bytes, int]:
    """The damaged bytes, and the offset of the first byte the damage touched."""
    kind = rng.choice(("truncate", "flip", "insert", "delete"))
    at = rng.randrange(len(data))
    if kind == "truncate":
        return data[:at], at
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1 :], at
    if kind == "insert":
        junk = bytes(rng.choice((0, 9, 0x22, 0x5B, 0x7B, 0x7D, 0xC3, 0xFF, 0x2C)) for _ in range(rng.randint(1, 4)))
        return data[:at] + junk + data[at:], at
    return data[:at] + data[at + rng.randint(1, 8) :], at


def _read(data: bytes) -> set[str]:
    report = IngestReport()
    return {f.Id for f in read_findings([io.BytesIO(data)], report)}


@pytest.mark.parametrize("seed", range(10))  # this campaign found an internal error: a non-UTF-8 byte in a run of documents
def test_json_lines_keep_every_untouched_line(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(CASES):
        damaged, at = _damage(JSONL, rng)
        touched = JSONL.count(b"\n", 0, at)  # the line the damage starts in (and, for a deletion, maybe the next)
        untouched = {SAMPLE[i]["Id"] for i in range(len(SAMPLE)) if i not in (touched, touched + 1)}
        if len(damaged) < at + 1:  # truncated: the lines after the cut are gone
            untouched = {SAMPLE[i]["Id"] for i in range(touched)}
        assert untouched <= _read(damaged), (seed, at)


@pytest.mark.parametrize("seed", range(10))
def test_an_array_loses_at_most_the_damaged_finding(seed: int) -> None:
    """Truncated: every finding before the cut is read. Otherwise (a byte flipped, inserted or
    deleted): at most the one finding the damage is in is lost; the reader finds the next whole
    finding and reads on."""
    rng = random.Random(100 + seed)
    for _ in range(CASES):
        damaged, at = _damage(ARRAY, rng)
        read = _read(damaged)
        if len(damaged) <= at:  # a finding is before the cut when its closing brace (and comma) are
            assert {SAMPLE[i]["Id"] for i, end in enumerate(ENDS) if end + 1 < at} <= read, (seed, at)
        else:
            assert len(SAMPLE) - len(read) <= 1, (seed, at)
