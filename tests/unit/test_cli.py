"""`claimflow` behaves for people: JSON on success, exit 2 and one line on stderr for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.cli import main

MAIL = Path(__file__).resolve().parent.parent / "data" / "mail"
EVERY_FILE = sorted(p for p in MAIL.rglob("*") if p.is_file() and p.name != "expected.json")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("path", EVERY_FILE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_intake_parse_prints_the_contract_or_one_line_for_bad_input(capsys, path):
    code, out, err = run(capsys, "intake", "parse", str(path))
    assert code in (0, 2), err
    if code == 0:
        fields = json.loads(out)
        assert set(fields) >= {"claim_number", "policy_number", "incident_date", "loss_type", "confidence"}
        assert err == ""
    else:
        assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_every_corpus_file_is_exercised():
    assert len(EVERY_FILE) >= 20


def test_a_missing_file_exits_2_with_one_line(capsys, tmp_path):
    code, out, err = run(capsys, "intake", "parse", str(tmp_path / "nope.eml"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "unreadable" in err


def test_a_directory_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, "intake", "parse", str(tmp_path))
    assert code == 2 and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [[], ["intake"], ["frobnicate"], ["sample-inbox", "--count", "x", "--out", "o"]])
def test_wrong_usage_exits_2_with_one_line(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_sample_inbox_refuses_a_count_below_one(capsys, tmp_path):
    code, _, err = run(capsys, "sample-inbox", "--count", "0", "--out", str(tmp_path))
    assert code == 2 and "--count" in err


def test_the_installed_console_script_never_prints_a_traceback(tmp_path):
    junk = tmp_path / "junk.eml"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    exe = Path(sys.executable).parent / "claimflow"
    proc = subprocess.run([str(exe), "intake", "parse", str(junk)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_intake_parse_reads_a_real_sample_mail(capsys, tmp_path):
    from datetime import UTC, datetime

    from connectors.samples.inbox import generate_inbox
    from connectors.samples.policies import build_policy_table

    truth = generate_inbox(12, 3, tmp_path, build_policy_table(), now=datetime(2026, 6, 1, tzinfo=UTC))
    rec = next(r for r in truth if r["kind"] == "new" and r["expected"]["claim_number"])
    code, out, _ = run(capsys, "intake", "parse", str(tmp_path / rec["file"]))
    assert code == 0 and json.loads(out)["claim_number"] == rec["expected"]["claim_number"]
