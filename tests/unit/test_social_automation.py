"""The pull sensor launches one micro-batch when the source has posts newer than the last pull, else skips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.resources import WarehouseResource
from assets.social.resources import XResource
from connectors.schema import SOCIAL_CHECKPOINTS
from orchestration.social_automation import social_pull_sensor


def _replay(path, minutes_ago: list[int]) -> None:
    now = datetime.now(UTC)
    with open(path, "w") as fh:
        for i, m in enumerate(minutes_ago):
            t = now - timedelta(minutes=m)
            fh.write(json.dumps({"data": {"id": str(1_900_000_000_000_000_000 + i), "text": "Claimflow app en panne",
                                          "lang": "fr", "created_at": t.strftime("%Y-%m-%dT%H:%M:%S.000Z")}}) + "\n")


def _evaluate(tmp_path, replay):
    wh = WarehouseResource(path=str(tmp_path / "wh.duckdb"))
    x = XResource(replay_path=str(replay), bearer_token_env="CLAIMFLOW_TEST_NO_TOKEN")
    with dg.build_sensor_context(resources={"x": x, "warehouse": wh}) as context:
        return list(social_pull_sensor(context)), wh


def test_new_posts_since_the_last_pull_launch_one_run_for_the_current_hour(tmp_path):
    replay = tmp_path / "r.jsonl"
    _replay(replay, [5, 10, 200])
    out, _ = _evaluate(tmp_path, replay)
    assert len(out) == 1 and isinstance(out[0], dg.RunRequest)
    assert out[0].partition_key == datetime.now(UTC).strftime("%Y-%m-%d-%H:00")
    assert out[0].tags["claimflow/new_posts"] == "2"  # the last hour, when nothing was pulled yet


def test_nothing_new_since_the_checkpoint_is_a_skip(tmp_path):
    replay = tmp_path / "r.jsonl"
    _replay(replay, [90, 120])
    wh = WarehouseResource(path=str(tmp_path / "wh.duckdb")).get()
    wh.ensure_schema()
    with wh.transaction() as con:
        con.execute(f"insert into {SOCIAL_CHECKPOINTS} values ('app_fr', '{{}}', 2, ?, ?, 'r1')",
                    [datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=30)] * 2)
    out, _ = _evaluate(tmp_path, replay)
    assert len(out) == 1 and isinstance(out[0], dg.SkipReason) and "no new posts" in out[0].skip_message
