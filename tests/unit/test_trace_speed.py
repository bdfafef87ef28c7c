"""The vectorised claim-trace helpers give exactly what their per-row definitions gave (issue 17).

Each test keeps the old per-row definition as the reference, so a faster version that drifts
(a time zone, a NaT, the order of `missing`, a JSON byte) fails here rather than in a trace.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from monitoring import telemetry as tel

ZURICH = timezone(timedelta(hours=1))


def per_row_completeness(ledger: pd.DataFrame, claims=None) -> pd.DataFrame:
    """`completeness` as it was: a set of steps per claim, then a loop."""
    have = ledger.groupby("claim_number")["step"].agg(lambda s: set(s))
    if claims is not None:
        have = have.reindex([str(c) for c in claims])
    rows = []
    for claim, steps in have.items():
        steps = steps if isinstance(steps, set) else set()
        missing = [s for s in tel.CLAIM_STEPS if s not in steps]
        rows.append({"claim_number": claim, "steps": len(tel.CLAIM_STEPS) - len(missing),
                     "missing": ",".join(missing), "complete": not missing})
    return pd.DataFrame(rows, columns=["claim_number", "steps", "missing", "complete"])


NAIVE = [datetime(2026, 11, 30, 9, 0, 0, 1), pd.NaT, datetime(1969, 12, 31, 23, 59, 59)]
AWARE = [datetime(2026, 3, 29, 1, 30, tzinfo=ZURICH), pd.NaT, datetime(2026, 11, 30, 9, 0, tzinfo=UTC)]


@pytest.mark.parametrize("values", [
    pd.Series(pd.to_datetime(NAIVE)),  # datetime64[ns], naive = UTC
    pd.Series(pd.to_datetime(NAIVE)).astype("datetime64[us]"),  # the warehouse's unit
    pd.Series(pd.to_datetime(NAIVE)).dt.tz_localize("Europe/Zurich"),  # aware, not UTC
    pd.Series([*NAIVE, *AWARE, None], dtype=object),  # naive and aware datetimes mixed
    pd.Series([pd.Timestamp("2026-11-30 09:00", tz="America/New_York"), datetime(2026, 1, 1)], dtype=object),
    pd.Series(["2026-11-30 09:00:00.5", "2026-11-30T10:00:00+02:00"]),  # text: read one by one, as before
], ids=["naive-ns", "naive-us", "aware", "mixed", "mixed-timestamps", "text"])
def test_span_times_in_nanoseconds_match_the_per_value_conversion(values):
    fast = tel._ts_many(values)
    assert fast.dtype == np.int64
    assert fast.tolist() == [tel._ts(v) for v in values]


def ledger_of(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["claim_number", "step"])


LEDGER = ledger_of([
    ("CLM-3", "audit"), ("CLM-1", "parse"), ("CLM-1", "intake"), *[("CLM-2", s) for s in tel.CLAIM_STEPS],
    ("CLM-1", "parse"),  # the same step twice (two messages)
    ("CLM-1", "retry"),  # a step that is not one of CLAIM_STEPS counts for nothing
    (None, "score"), ("CLM-4", None), ("CLM-0", "draft"), ("CLM-0", "intake"), ("CLM-0", "sor_write"),
])


@pytest.mark.parametrize("claims", [
    None, ["CLM-2", "CLM-1", "CLM-9", "CLM-1"], [], ["CLM-9"], ("CLM-0", "CLM-4"),
], ids=["all", "some-unknown-and-repeated", "none", "only-unknown", "tuple"])
def test_completeness_is_the_same_frame_as_the_per_claim_loop(claims):
    pd.testing.assert_frame_equal(tel.completeness(LEDGER, claims), per_row_completeness(LEDGER, claims))


@pytest.mark.parametrize("claims", [None, ["CLM-1"]])
def test_completeness_of_an_empty_ledger_is_the_same_frame(claims):
    empty = ledger_of([])
    pd.testing.assert_frame_equal(tel.completeness(empty, claims), per_row_completeness(empty, claims))


def test_completeness_of_many_random_claims_matches_the_loop():
    rng = np.random.default_rng(17)
    steps = np.array([*tel.CLAIM_STEPS, "other"], dtype=object)
    ledger = ledger_of(list(zip(rng.integers(0, 300, 2000).astype(str).astype(object),
                                steps[rng.integers(0, len(steps), 2000)])))
    pd.testing.assert_frame_equal(tel.completeness(ledger), per_row_completeness(ledger))
    some = [str(i) for i in rng.integers(0, 400, 50)]
    pd.testing.assert_frame_equal(tel.completeness(ledger, some), per_row_completeness(ledger, some))


def test_span_and_trace_ids_match_the_per_row_hashes():
    claims = ["CLM-1", "CLM-2", "CLM-1", None, np.nan, None, "CLM-2"]
    events = ["hash1", 3, "1", None, 2.5, "x", "CLM-2:triage:1:standard"]
    steps = ["intake", "audit", "score", "parse", "route", "draft", "sor_write"]
    assert tel.step_span_ids(claims, steps, events) == [
        tel.step_span_id(c, s, str(e)) for c, s, e in zip(claims, steps, events)]
    assert list(tel.claim_trace_ids(pd.Series(claims))) == [tel.claim_trace_id(c) for c in claims]
    assert len(tel.claim_trace_ids(pd.Series([], dtype=object))) == 0


def step_rows_with_awkward_text() -> pd.DataFrame:
    rows = tel.step_rows(["CLM-1", "CLM-2", "CLM-3"], "route", "run/1", datetime(2026, 11, 30, 9),
                         datetime(2026, 11, 30, 9, 1), attributes=[
                             {"queue": 'say "},{"kind":"x"'}, {"path": "a/b\\c", "note": "Zürich ✓\n\t"}, {}])
    rows.loc[2, "claim_number"] = '},{"kind":'  # a record boundary's text inside a value
    return rows


def test_spans_file_is_byte_for_byte_what_to_json_lines_wrote(tmp_path):
    rows = step_rows_with_awkward_text()
    assert tel.write_step_spans(rows, tmp_path) == 3
    assert tel.write_step_spans(rows.iloc[:1], tmp_path) == 1
    # The file as the previous writer left it: pandas' lines output, then a newline, per batch.
    expected = ""
    for batch in (rows, rows.iloc[:1]):
        lines = pd.DataFrame({
            "kind": "claim_step", "name": "claim." + batch["step"], "trace_id": batch["trace_id"],
            "span_id": batch["span_id"], "claim_number": batch["claim_number"], "step": batch["step"],
            "run_id": batch["run_id"], "start_ns": batch["started_at"].map(tel._ts),
            "end_ns": batch["ended_at"].map(tel._ts), "status": batch["status"], "attributes": batch["attributes"],
        })
        expected += lines.to_json(orient="records", lines=True) + "\n"
    written = (tmp_path / "telemetry" / tel.SPANS_FILE).read_text(encoding="utf-8")
    assert written == expected
    spans = tel.read_spans(tmp_path)
    assert list(spans["claim_number"]) == ["CLM-1", "CLM-2", '},{"kind":', "CLM-1"]


def test_audit_milestone_attributes_are_the_json_dumps_text():
    from assets.monitoring.traces import _json

    for value in ["CLM-1:triage:1:standard", 'a "quote" / ü ✓ \n', "", None, 7, True, 2.5, float("nan"), [1, "a"]]:
        assert _json(value) == json.dumps(value)


def test_entry_fields_read_the_same_values_as_the_parsed_entries(tmp_path):
    from connectors.audit import AuditLog

    log = AuditLog(f"sqlite:///{tmp_path / 'sor.db'}", key=b"k" * 32, anchor_path=tmp_path / "anchors.jsonl")
    payloads = [{"effect_key": "CLM-1:triage:1:standard"}, {"effect_key": None}, {}, {"effect_key": 12},
                {"effect_key": ["a", 1]}, {"effect_key": {"x": "y"}}, {"effect_key": "Zürich \"q\""},
                {"effect_key": True}, {"effect_key": 1.5}, {"effect_key": ""}]
    log.append_many([{"actor": "t", "action": "triage.decision", "subject": f"CLM-{i}", "payload": p}
                     for i, p in enumerate(payloads)])
    log.append(actor="t", action="review.decide", subject="CLM-1", payload={"effect_key": "other"})
    assert log.entry_fields("triage.decision", "effect_key") == [
        (e.seq, e.subject, e.at, e.payload.get("effect_key")) for e in log.entries(action="triage.decision")]
