"""Live monitoring: a day whose claims drift fails its check, and the alert reaches a loopback webhook once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from tests.model.conftest import synthetic_claims

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):  # keep the test output clean
        return None


@pytest.fixture
def webhook():
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/alerts", _Receiver.received
    server.shutdown()
    server.server_close()


def _home_with_two_days(home: Path, quiet: str, shifted: str) -> None:
    from connectors.schema import PARSED_CLAIMS, RISK_SCORES
    from connectors.warehouse import Warehouse

    wh = Warehouse(home / "warehouse.duckdb")
    wh.ensure_schema()
    training = synthetic_claims(6_000, seed=11)
    training["split"] = np.where(training["incident_date"] >= training["incident_date"].quantile(0.8),
                                 "holdout", "train")
    live = synthetic_claims(800, seed=12)  # same process as training: a quiet day
    live["claim_number"] = [f"CLM-2026-{i:06d}" for i in range(len(live))]
    live["day"] = np.where(np.arange(len(live)) < 400, quiet, shifted)
    rng = np.random.default_rng(3)
    is_shifted = live["day"] == shifted
    # the shifted day: a hail storm's claims — bigger, later reported, worse drivers, other brands
    live.loc[is_shifted, "estimated_amount_eur"] *= 6
    live.loc[is_shifted, "report_delay_days"] += 20
    live.loc[is_shifted, "bonus_malus"] = np.minimum(live.loc[is_shifted, "bonus_malus"] + 90, 350)
    live.loc[is_shifted, "prior_claims"] += 2
    live.loc[is_shifted, "loss_type"] = "storm"
    live.loc[is_shifted, "driver_age"] = rng.integers(18, 26, int(is_shifted.sum()))
    live.loc[is_shifted, "photo_count"] = 0
    live.loc[is_shifted, "exposure"] = rng.uniform(0.01, 0.1, int(is_shifted.sum()))
    live.loc[is_shifted, "tenure_days"] = rng.integers(1, 60, int(is_shifted.sum()))
    live.loc[is_shifted, "vehicle_age"] = rng.integers(20, 30, int(is_shifted.sum()))
    live["received_at"] = pd.to_datetime(live["day"]) + pd.to_timedelta(rng.integers(0, 36_000, len(live)), "s")
    scores = pd.DataFrame({
        "claim_number": live["claim_number"], "model_version": "1",
        "score": np.where(is_shifted, rng.beta(5, 2, len(live)), rng.beta(1.2, 8, len(live))),
        "served_by": "triton", "scored_at": live["received_at"] + pd.Timedelta(minutes=3), "run_id": "r",
    })
    parsed = pd.DataFrame({"claim_number": live["claim_number"], "received_at": live["received_at"],
                           "min_confidence": np.where(is_shifted, rng.uniform(0.3, 0.6, len(live)),
                                                      rng.uniform(0.85, 0.99, len(live)))})
    features = live.drop(columns=["day", "high_risk"])
    with wh.transaction() as con:
        con.register("t", training)
        con.execute("create table main.training_set as select * from t")
        con.register("f", features)
        con.execute("create table main.claim_features as select * from f")
        wh.append(con, RISK_SCORES, scores)
        wh.append(con, PARSED_CLAIMS, parsed)


def test_a_shifted_day_fails_its_checks_and_the_alert_reaches_the_webhook_once(claimflow_home, dbt_manifest, webhook):
    from assets.monitoring.live import AlertsResource, live_drift, live_monitoring_alert_sensor
    from assets.resources import GovernanceResource, SystemOfRecordResource, WarehouseResource

    url, received = webhook
    today = datetime.now(UTC).date()
    quiet, shifted = (today - timedelta(days=2)).isoformat(), (today - timedelta(days=1)).isoformat()
    _home_with_two_days(claimflow_home, quiet, shifted)
    warehouse = WarehouseResource(path=str(claimflow_home / "warehouse.duckdb"))
    governance = GovernanceResource(approvers=["risk.officer"], trained_by="trainer")
    sor_url = f"sqlite:///{claimflow_home / 'sor.db'}"

    verdicts = {}
    for day in (quiet, shifted):
        result = dg.materialize([live_drift], partition_key=day,
                                resources={"warehouse": warehouse, "governance": governance})
        assert result.success
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        verdicts[day] = checks
    assert verdicts[quiet]["no_live_drift"], "a day drawn from the training process must not alert"
    assert not verdicts[shifted]["no_live_drift"]
    assert (claimflow_home / "reports" / shifted / "live_drift.html").stat().st_size > 10_000

    resources = {"warehouse": warehouse, "system_of_record": SystemOfRecordResource(url=sor_url),
                 "alerts": AlertsResource(webhook_url=url)}
    with dg.build_sensor_context(resources=resources) as ctx:
        live_monitoring_alert_sensor(ctx)
        cursor = ctx.cursor
    assert [a["day"] for a in received] == [shifted]
    assert "feature drift" in received[0]["summary"] and "prediction drift" in received[0]["summary"]
    assert "@" not in json.dumps(received[0])  # no personal data in the alert
    engine = sa.create_engine(sor_url)
    with engine.connect() as con:
        items = con.execute(sa.text("select claim_number, suggested_reason from review_items")).all()
    engine.dispose()
    assert len(items) == 1 and items[0][0] == f"MON-{shifted}"
    assert items[0][1].startswith("consider retraining")

    # the next tick, and a daemon restart that lost the cursor, raise nothing twice
    with dg.build_sensor_context(resources=resources, cursor=cursor) as ctx:
        live_monitoring_alert_sensor(ctx)
    assert len(received) == 1
    with dg.build_sensor_context(resources=resources) as ctx:
        live_monitoring_alert_sensor(ctx)
    engine = sa.create_engine(sor_url)
    with engine.connect() as con:
        assert con.execute(sa.text("select count(*) from review_items")).scalar() == 1
    engine.dispose()


def test_bias_flags_a_band_singled_out_more_than_in_training():
    from monitoring.live import bias_table

    rng = np.random.default_rng(0)
    training = pd.DataFrame({"area": rng.choice(list("ABC"), 3_000), "driver_age": rng.integers(18, 80, 3_000),
                             "high_risk": rng.random(3_000) < 0.2})
    live = pd.DataFrame({"area": rng.choice(list("ABC"), 900), "driver_age": rng.integers(18, 80, 900)})
    live["score"] = np.where(live["area"] == "C", rng.uniform(0.4, 1.0, 900), rng.uniform(0.0, 0.6, 900))
    table = {(b["dimension"], b["band"]): b for b in bias_table(live, training, threshold=0.5)}
    assert table[("area", "C")]["verdict"] == "fail"
    assert table[("area", "A")]["verdict"] in ("ok", "fail")
    even = live.assign(score=rng.uniform(0, 1, 900))
    assert all(b["verdict"] != "fail" for b in bias_table(even, training, threshold=0.5, min_claims=100)
               if b["dimension"] == "area")
