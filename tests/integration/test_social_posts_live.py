"""`social_posts` on the real path: tweepy against the loopback X API, checkpoints kept in the warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from assets.resources import WarehouseResource
from assets.social.assets import social_posts
from assets.social.resources import XResource
from connectors.schema import SOCIAL_CHECKPOINTS, SOCIAL_POSTS
from tests.fakes.x_server import FakeX

pytestmark = pytest.mark.integration


def post(i: int, text: str, at: datetime, lang: str = "fr") -> dict:
    pid = str(1_950_000_000_000_000_000 + i)
    return {"data": {"id": pid, "text": text, "lang": lang, "author_id": "77", "edit_history_tweet_ids": [pid],
                     "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z")},
            "includes": {"users": [{"id": "77", "name": "Jeanne Martin", "username": "jeanne_lyon",
                                    "location": "Lyon"}]}}


def test_the_flow_pulls_through_tweepy_and_resumes_from_its_checkpoints(tmp_path, monkeypatch):
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    with FakeX(now=datetime.now(UTC)) as fake:
        fake.add([post(1, "Claimflow ne répond pas", hour + timedelta(minutes=5)),
                  post(2, "grêle énorme à Lyon", hour + timedelta(minutes=20)),
                  post(3, "rien à voir", hour + timedelta(minutes=30))])
        monkeypatch.setenv("X_BEARER_TOKEN", "test-token")
        monkeypatch.setenv("X_API_BASE_URL", fake.base_url)
        resources = {"x": XResource(), "warehouse": WarehouseResource(path=str(tmp_path / "wh.duckdb"))}
        key = hour.strftime("%Y-%m-%d-%H:00")
        assert dg.materialize([social_posts], partition_key=key, resources=resources).success
        searches = fake.calls("/2/tweets/search/recent")
        assert len(searches) == 7 and all("since_id" not in c.params for c in searches)  # one per query
        wh = resources["warehouse"].get()
        rows = wh.read(f"select post_id, region, author_hash, matched, topic from {SOCIAL_POSTS} order by post_id")
        assert rows["post_id"].tolist() == [1_950_000_000_000_000_001, 1_950_000_000_000_000_002]
        assert rows["region"].tolist() == ["Auvergne-Rhône-Alpes"] * 2
        assert rows["topic"].tolist() == ["brand", "hail"] and rows["matched"].tolist() == ["brand_fr", "peril_fr"]
        assert "jeanne" not in " ".join(rows["author_hash"]).lower()
        cps = wh.read(f"select query_name, checkpoint from {SOCIAL_CHECKPOINTS}").set_index("query_name")["checkpoint"]
        assert '"since_id": 1950000000000000002' in cps["peril_fr"]

        fake.add([post(4, "grêle encore à Lyon", hour + timedelta(minutes=50))])
        assert dg.materialize([social_posts], partition_key=key, resources=resources).success
        peril = [c for c in fake.calls("/2/tweets/search/recent") if "grêle" in c.params["query"]]
        assert peril[-1].params["since_id"] == "1950000000000000002"
        assert len(wh.read(f"select * from {SOCIAL_POSTS}")) == 3
