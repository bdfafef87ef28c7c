"""The ROI model's arithmetic on hand-checked inputs, and the yield read from a small hand-built home."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import duckdb
import pandas as pd
import pytest

from models.pricing import PRICE_TABLE, TokenUsage
from monitoring import roi

ALL_AVOIDED = {s: 1.0 for s in roi.MANUAL_STEPS}


def test_npv_discounts_each_month_at_the_monthly_equivalent_rate():
    annual = 1.01**12 - 1  # exactly 1% a month
    assert roi.monthly_rate(annual) == pytest.approx(0.01)
    # By hand: -100/1.01 + 60/1.01^2 + 60/1.01^3 = -99.009901 + 58.817763 + 58.235409
    assert roi.npv([-100, 60, 60], annual) == pytest.approx(18.043271, abs=1e-6)
    assert roi.npv([-100, 60, 60], 0.0) == pytest.approx(20.0)


def test_break_even_is_the_month_the_cumulative_flow_turns_and_stays_non_negative():
    assert roi.break_even_month([-100, 60, 60]) == 3  # cumulative -100, -40, +20
    assert roi.break_even_month([-100, 100, 5]) == 2  # exactly zero counts
    assert roi.break_even_month([-100, 10, 10]) is None  # not within the horizon
    assert roi.break_even_month([50, -100, 80]) == 3  # dips below zero in month 2: not yet broken even
    assert roi.break_even_month([5, 5]) == 1


def _simple() -> roi.RoiParameters:
    """1,000 claims a month, one 6-minute step at $30/h, $500 platform, $6,000 integration in month 1."""
    return roi.RoiParameters(
        months=6, annual_discount_rate=0.0, claims_per_month=1_000,
        step_minutes=roi.StepMinutes(policy_lookup=0, reading=6, routing=0, system_update=0, status_message=0),
        loaded_cost_per_hour=30.0,
        dagster_nodes=0, mlflow_nodes=0, triton_cpu_nodes=0, triton_gpu_nodes=0, postgres_per_hour=0.0,
        storage_and_network_per_month=500.0,
        llm_input_tokens_per_claim=0, llm_output_tokens_per_claim=0, serving_cost_per_claim=0.0,
        engineer_cost_per_month=6_000.0, integration_person_months=1.0, integration_months=1, ramp_months=0,
        monitoring_fte=0.0,
    )


def test_the_cash_flows_of_a_hand_checked_case():
    flows = roi.cash_flows(_simple(), ALL_AVOIDED)
    # Saving once live: 1,000 claims x 6 min / 60 x $30 = $3,000 a month; live from month 2.
    assert flows["fte_cost_saved"].tolist() == [0, 3000, 3000, 3000, 3000, 3000]
    assert flows["net"].tolist() == [-6500, 2500, 2500, 2500, 2500, 2500]
    assert flows["cumulative"].tolist() == [-6500, -4000, -1500, 1000, 3500, 6000]
    summary = roi.summarise(_simple(), ALL_AVOIDED)
    assert summary["break_even_month"] == 4
    assert summary["npv_usd"] == pytest.approx(6000.0)


def test_savings_scale_with_the_share_of_each_step_avoided_and_adoption_ramps():
    params = _simple().with_changes(ramp_months=2)
    half = {**ALL_AVOIDED, "reading": 0.5}
    flows = roi.cash_flows(params, half)
    # Half the reading avoided: $1,500 a month at full adoption; half adoption in the first live month.
    assert flows["fte_cost_saved"].tolist() == [0, 750, 1500, 1500, 1500, 1500]
    with pytest.raises(ValueError, match="routing"):
        roi.cash_flows(params, {"reading": 1.0})


def test_model_cost_uses_the_dated_price_table():
    params = roi.RoiParameters(llm_input_tokens_per_claim=1_000_000, llm_output_tokens_per_claim=0)
    haiku = PRICE_TABLE.for_model("claude-haiku-4-5")
    assert roi.llm_cost_per_claim(params) == pytest.approx(float(haiku.input))
    batched = params.with_changes(llm_batch_share=1.0)
    assert roi.llm_cost_per_claim(batched) == pytest.approx(float(haiku.input) / 2)
    default = roi.RoiParameters()
    expected = haiku.cost(TokenUsage(input_tokens=default.llm_input_tokens_per_claim,
                                     output_tokens=default.llm_output_tokens_per_claim))
    assert Decimal(str(roi.llm_cost_per_claim(default))) == pytest.approx(expected)
    # Model cost is per automated claim: a month at full adoption pays claims x per-claim cost.
    flows = roi.cash_flows(_simple().with_changes(llm_input_tokens_per_claim=1_000_000), ALL_AVOIDED)
    assert flows["model"].iloc[1] == pytest.approx(-1_000 * float(haiku.input))


def test_platform_cost_is_nodes_times_hourly_price_over_a_month():
    params = roi.RoiParameters(dagster_nodes=1, dagster_node_per_hour=1.0, mlflow_nodes=0, triton_cpu_nodes=2,
                               triton_cpu_node_per_hour=0.5, triton_gpu_nodes=0, postgres_per_hour=0.0,
                               storage_and_network_per_month=10.0)
    lines = roi.platform_cost_lines(params)
    assert lines["Dagster"] == pytest.approx(730.0) and lines["Triton CPU"] == pytest.approx(730.0)
    assert roi.monthly_platform_cost(params) == pytest.approx(1470.0)


def test_the_tornado_moves_one_input_at_a_time_and_puts_the_widest_swing_on_top():
    params = roi.RoiParameters()
    table = roi.tornado(params, ALL_AVOIDED)
    assert len(table) == 5 and table["swing"].is_monotonic_decreasing
    base = roi.npv(roi.cash_flows(params, ALL_AVOIDED)["net"], params.annual_discount_rate)
    assert table["base_npv"].eq(base).all()
    claims = table.set_index("input").loc["claims per month"]
    direct = roi.npv(roi.cash_flows(params.with_changes(claims_per_month=4_000), ALL_AVOIDED)["net"], 0.10)
    assert claims["npv_high"] == pytest.approx(direct)
    effort = table.set_index("input").loc["integration effort"]
    assert effort["npv_high"] < base < effort["npv_low"]  # more effort, lower NPV
    for label in table["input"]:
        row = table.set_index("input").loc[label]
        assert min(row["npv_low"], row["npv_high"]) <= base <= max(row["npv_low"], row["npv_high"])


def test_every_input_states_a_unit_and_a_source():
    table = roi.assumptions_table(roi.RoiParameters())
    assert (table["unit"] != "").all() and (table["source"] != "").all()
    assert {f"minutes: {s}" for s in roi.MANUAL_STEPS} <= set(table["input"])


def test_the_rule_names_the_yield_reads_are_the_routing_rules():
    from assets.claims.routing import RULES
    from assets.claims.verification import VERIFIED

    assert set(roi.READING_RULES) <= set(RULES) and roi.VERIFIED == VERIFIED


# ------------------------------------------------------------------ measurement on a hand-built home


def _home(tmp_path, *, with_reviews: bool = True):
    """Four claims: two straight through, one held and overridden by a reviewer, one still waiting."""
    import sqlalchemy as sa

    from connectors.system_of_record import (
        ClaimsSystem,
        outbox_table,
        review_items_table,
    )

    t0 = datetime(2026, 11, 2, 9, 0)
    warehouse = tmp_path / "warehouse.duckdb"
    decisions = pd.DataFrame([
        # claim, queue, rule, verdict, delivered, decided
        ("C1", "fast_track", "R7_fast_track", "verified", t0, t0 + timedelta(hours=1)),
        ("C2", "standard", "R8_standard", "verified", t0, t0 + timedelta(hours=3)),
        ("C3", "human_review", "R1_low_extraction_confidence", "verified", t0, t0 + timedelta(hours=1)),
        ("C4", "human_review", "R3_policy_not_verified", "lapsed", t0, t0 + timedelta(hours=2)),
    ], columns=["claim_number", "queue", "rule", "policy_verdict", "received_at", "decided_at"])
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema raw")
        con.execute("create table raw.triage_decisions as select * from decisions")
        con.execute("create table raw.status_drafts as select claim_number, "
                    "'{\"drafter\": \"template\"}' as provenance, 0.002 as cost_usd from decisions")
        con.execute("create table raw.serving_costs as select 100 as inferences, 0.036 as compute_seconds, "
                    "0.40 as price_per_hour")
        con.execute("create table raw.risk_scores as select claim_number from decisions")
    url = f"sqlite:///{tmp_path / 'sor.db'}"
    system = ClaimsSystem(url)
    system.ensure_schema()
    system.record_decisions([{"claim_number": c, "queue": q, "rule": r, "inputs": {}}
                             for c, q, r in decisions[["claim_number", "queue", "rule"]].itertuples(index=False)],
                            step="triage", model_version="1")
    with system.engine.begin() as con:
        con.execute(outbox_table.delete().where(outbox_table.c.claim_number == "C2"))
        con.execute(outbox_table.insert(), [{"claim_number": c, "subject": "s", "body": "b", "payload_json": "{}",
                                             "created_at": t0, "status": "pending"} for c in ("C1", "C3")])
        if with_reviews:
            r = review_items_table.c
            con.execute(review_items_table.update().where(r.claim_number == "C3").values(
                status="decided", decision="override", final_queue="specialist",
                decided_at=t0 + timedelta(hours=5)))
            con.execute(review_items_table.update().where(r.claim_number == "C4").values(
                created_at=t0 + timedelta(hours=2)))
        else:
            con.execute(sa.delete(review_items_table))
    system.dispose()
    return warehouse, url, t0


def test_the_yield_of_a_hand_built_home(tmp_path):
    warehouse, url, t0 = _home(tmp_path)
    measured = roi.measure_yield(warehouse, url, now=t0 + timedelta(hours=6))
    assert measured.claims_decided == 4
    assert measured.share_without_person == 0.5
    # C1 1 h and C2 3 h by the machine; C3 5 h, when the reviewer decided; C4 still waits.
    assert sorted(measured.cycle_time_hours.tolist()) == [1.0, 3.0, 5.0]
    assert measured.still_open == 1
    assert measured.steps_avoided == {
        "policy_lookup": 0.75,  # C4's policy did not verify
        "reading": 0.75,  # C3 was held for its extraction
        "routing": 0.5,
        "system_update": 1.0,
        "status_message": 0.5,  # drafts for C1 and C3 only
    }
    assert measured.review_waiting_age_minutes.tolist() == [240.0]
    assert (measured.reviewer_decisions, measured.reviewer_overrides, measured.error_rate) == (1, 1, 1.0)
    assert measured.llm_cost_per_claim == pytest.approx(0.002)
    assert measured.serving_cost_per_claim == pytest.approx(0.036 * 0.40 / 3600 / 100)
    assert measured.drafters == {"template": 4}
    split = roi.cost_per_claim_split(measured, roi.RoiParameters())
    assert split["platform"] == pytest.approx(roi.monthly_platform_cost(roi.RoiParameters()) / 2_000)


def test_without_reviews_the_error_rate_is_unknown_not_zero(tmp_path):
    warehouse, url, t0 = _home(tmp_path, with_reviews=False)
    measured = roi.measure_yield(warehouse, url, now=t0)
    assert measured.error_rate is None and measured.reviewer_decisions == 0
    assert measured.still_open == 2


def test_a_home_without_a_warehouse_is_named(tmp_path):
    with pytest.raises(roi.MissingWarehouse, match="no warehouse"):
        roi.measure_yield(tmp_path / "nothing.duckdb", f"sqlite:///{tmp_path / 'sor.db'}")
    assert not (tmp_path / "sor.db").exists()  # reading never creates a system of record
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as con:
        con.execute("create schema raw")
        con.execute("create table raw.triage_decisions (claim_number varchar, queue varchar, rule varchar, "
                    "policy_verdict varchar, received_at timestamp, decided_at timestamp)")
    with pytest.raises(roi.MissingWarehouse, match="no triage decisions yet"):
        roi.measure_yield(tmp_path / "empty.duckdb", f"sqlite:///{tmp_path / 'sor.db'}")


def test_the_social_figures_are_none_until_the_social_flow_has_run(tmp_path):
    import sqlalchemy as sa

    warehouse, url, t0 = _home(tmp_path)
    assert roi.measure_social(warehouse, url) is None
    engine = sa.create_engine(url)
    with engine.begin() as con:  # the ticket store exists but no event was detected: still not run
        con.execute(sa.text("create table social_tickets (ticket_id varchar, severity varchar, onset timestamp, "
                            "created_at timestamp)"))
    assert roi.measure_social(warehouse, url) is None
    with engine.begin() as con:
        con.execute(sa.text("insert into social_tickets values (:i, :s, :o, :c)"), [
            {"i": "T1", "s": "high", "o": t0, "c": t0 + timedelta(minutes=30)},
            {"i": "T2", "s": "low", "o": t0, "c": t0 + timedelta(minutes=90)},
        ])
    engine.dispose()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table raw.social_posts as select range as post_id from range(360)")
    social = roi.measure_social(warehouse, url)
    assert social.tickets == 2 and social.posts_read == 360
    assert social.tickets_by_severity == {"high": 1, "low": 1}
    assert social.detection_delay_minutes.tolist() == [30.0, 90.0] and social.notes == []
    # 360 posts x 20 s = 2 h, plus 2 tickets x 10 min.
    assert social.handler_hours_saved == pytest.approx(2 + 20 / 60)
