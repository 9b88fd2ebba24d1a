"""Scan targets: only the endpoints metahub proved reachable from the internet, in a list nmap reads."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import metahub
from metahub.checks.network import described_path
from metahub.json_outputs import targets

from .conftest import metahub_cli


def test_every_target_is_a_path_an_is_public_true_names(enriched_lab: metahub.Run) -> None:
    found = targets(enriched_lab.resources)
    assert found["targets"], "the lab has internet-facing instances"
    for target in found["targets"]:
        resource = enriched_lab.resources[target["resource"]]
        assert resource.verdict("is_public") == "true"  # nothing unproven goes in
        assert target["evidence"] in json.dumps(resource.metachecks["is_public"])
        if target["family"] == "IPv4" and target["address"][0].isdigit():
            assert ipaddress.ip_address(target["address"]).is_global
    proven = {t["address"] for t in found["targets"]}
    assert set(found["nmap"]["ipv4_and_names"]) | set(found["nmap"]["ipv6"]) == proven
    # a resource metahub could not decide, or found closed, gives nothing to scan
    undecided = [r for r in enriched_lab.resources.values() if r.verdict("is_public") in ("unknown", "false")]
    assert undecided and not {t["resource"] for t in found["targets"]} & {r.arn for r in undecided}


def test_a_described_path_reads_back() -> None:
    text = ("tcp/22 from 0.0.0.0/0 over IPv4 to 54.12.3.4 via sg-1 (web), acl-1 rule 100 (replies: rule 100), "
            "rtb-1 -> igw-1")  # fmt: skip
    assert described_path(text) == {"protocol": "tcp", "ports": "22", "family": "IPv4", "address": "54.12.3.4"}
    assert described_path("tcp/all ports from ::/0 over IPv6 to 2600:1f18::1 via sg-2, acl")["ports"] == "all"
    assert described_path("bucket policy allows s3:GetObject to *") is None


def test_the_command_line_writes_the_nmap_list_and_its_evidence(tmp_path: Path) -> None:
    result = metahub_cli("--demo", "--context", "config", "--output-modes", "targets", "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    [listing] = tmp_path.glob("metahub-targets-*.txt")
    evidence = json.loads(listing.with_suffix(".json").read_text())
    hosts = listing.read_text().splitlines()
    assert hosts and hosts == evidence["nmap"]["ipv4_and_names"]
    assert evidence["nmap"]["ports"] == "T:22,3389"  # the lab's open SSH and RDP
    assert all(t["evidence"] for t in evidence["targets"])
