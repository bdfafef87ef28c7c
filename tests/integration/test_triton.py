"""A real tritonserver on loopback serving two small risk models: scores, swaps, failures, statistics."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
import pytest

from models import onnx_export, risk
from models.contracts import LOSS_TYPES
from models.features import LABEL
from models.serving import server as triton
from models.serving.client import (
    OnnxFallbackScorer,
    ScoringError,
    ServingUnavailable,
    TritonScorer,
)
from models.serving.repository import (
    MODEL_NAME,
    RepositoryError,
    ServingSettings,
    write_config,
    write_model_version,
    written_versions,
)
from models.serving.statistics import (
    compute_seconds_per_inference,
    cost_measurement,
    read_metrics,
    read_statistics,
)
from models.tracking import free_port
from monitoring.cost import TRITON


def synthetic_claims(n: int, seed: int) -> pd.DataFrame:
    """Claims with every model feature (missing photo quality included) and a label the features drive."""
    rng = np.random.default_rng(seed)
    amount = np.round(2_500 * rng.lognormal(0.0, 0.8, n), 2)
    photos = rng.poisson(2.0, n)
    frame = pd.DataFrame({
        "bonus_malus": rng.integers(50, 150, n), "driver_age": rng.integers(18, 90, n),
        "vehicle_age": rng.integers(0, 25, n), "vehicle_power": rng.integers(4, 15, n),
        "exposure": rng.uniform(0.05, 1.0, n), "prior_claims": rng.poisson(0.4, n),
        "tenure_days": rng.integers(1, 3_000, n), "estimated_amount_eur": amount,
        "report_delay_days": rng.integers(0, 60, n), "photo_count": photos,
        "photo_quality": np.where(photos > 0, rng.beta(4, 2, n), np.nan),
        "area": rng.choice(list("ABCDEF"), n),
        "vehicle_brand": rng.choice(risk.DEFAULT_VOCABULARIES["vehicle_brand"], n),
        "loss_type": rng.choice(LOSS_TYPES, n),
    })  # fmt: skip
    logit = -2.0 + np.log(amount / 2_500) + 0.05 * frame["report_delay_days"] + 0.7 * frame["prior_claims"]
    frame[LABEL] = (rng.random(n) < 1 / (1 + np.exp(-(logit + 1.0 * (photos == 0))))).astype(int)
    return frame


def _train(seed: int) -> bytes:
    frame = synthetic_claims(2_500, seed)
    model = risk.train(frame, risk.TrainingParams(max_iter=40, random_state=seed), threads=1)
    return onnx_export.to_onnx(model, frame.head(300))


@pytest.fixture(scope="module")
def onnx_models() -> dict[int, bytes]:
    """Two versions: the same recipe trained on different data with different seeds."""
    return {1: _train(1), 2: _train(2)}


@pytest.fixture(scope="module")
def claims() -> pd.DataFrame:
    return synthetic_claims(3_000, seed=99)


def _start(repo: Path, ports: dict[str, int] | None = None) -> triton.TritonServer:
    ports = ports or {"http_port": free_port(), "grpc_port": free_port(), "metrics_port": free_port()}
    return triton.start_triton(repo, **ports, log_path=repo.parent / "tritonserver.log", timeout=120)


@pytest.fixture(scope="module")
def server(onnx_models: dict[int, bytes], tmp_path_factory: pytest.TempPathFactory) -> Iterator[triton.TritonServer]:
    """One Triton for the module, serving version 1; stopped (and its work directory removed) afterwards."""
    repo = tmp_path_factory.mktemp("triton") / "repo"
    write_model_version(repo, 1, onnx_models[1])
    write_config(repo, [1])
    server = _start(repo)
    yield server
    server.stop()


def _scorer(server: triton.TritonServer, **kwargs) -> TritonScorer:
    options = {"timeout_s": 10.0, "wait_for_server_s": 5.0} | kwargs
    return TritonScorer(server.url_grpc, **options)


@pytest.mark.parametrize("max_batch", [4096, 700])
@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_triton_scores_like_onnxruntime_and_reports_the_version_that_served(
    server: triton.TritonServer, onnx_models: dict[int, bytes], claims: pd.DataFrame, max_batch: int
) -> None:
    with _scorer(server, max_batch=max_batch) as scorer:
        result = scorer.score(risk.encode_features(claims))
    assert claims["photo_quality"].isna().any()  # missing values travel as NaN
    np.testing.assert_allclose(result.scores, onnx_export.onnx_predict(onnx_models[1], claims), atol=1e-5, rtol=0)
    assert result.scores.dtype == np.float64
    assert result.model_version == 1 and set(result.model_versions.tolist()) == {1}
    assert result.served_by == "triton"


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_fallback_scores_exactly_what_triton_scores_and_says_it_is_the_fallback(
    server: triton.TritonServer, onnx_models: dict[int, bytes], claims: pd.DataFrame
) -> None:
    x = risk.encode_features(claims)
    with _scorer(server) as scorer:
        served = scorer.score(x, version=1)
    fallback = OnnxFallbackScorer(onnx_models[1], 1).score(x)
    np.testing.assert_allclose(fallback.scores, served.scores, atol=1e-6, rtol=0)
    assert (fallback.served_by, fallback.model_version) == ("onnxruntime-fallback", 1)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_an_unknown_version_is_a_scoring_error_not_a_wait(server: triton.TritonServer, claims: pd.DataFrame) -> None:
    with _scorer(server) as scorer:
        t0 = time.monotonic()
        with pytest.raises(ScoringError, match="NOT_FOUND"):
            scorer.score(risk.encode_features(claims.head(5)), version=7)
    assert time.monotonic() - t0 < 2.0


class _Traffic:
    """Scores in a loop: pinned to `self.version` (what the caller routes to) or unpinned; records every call."""

    def __init__(self, server: triton.TritonServer, x: np.ndarray, pinned: bool) -> None:
        self.scorer = _scorer(server, max_batch=64)
        self.x, self.pinned, self.version = x, pinned, 1
        self.records: list[tuple[float, float, int | None, object]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            asked = self.version if self.pinned else None
            t0 = time.monotonic()
            try:
                outcome: object = self.scorer.score(self.x, version=asked)
            except Exception as exc:  # noqa: BLE001 - recorded, asserted on by the test
                outcome = exc
            self.records.append((t0, time.monotonic(), asked, outcome))

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=60)
        self.scorer.close()


def _check_traffic(traffic: _Traffic, expected: dict[int, np.ndarray]) -> list[tuple[float, float, int]]:
    failures = [r for r in traffic.records if isinstance(r[3], Exception)]
    assert not failures, f"{len(failures)} failed request(s), first: {failures[0][3]!r}"
    served = []
    for start, end, asked, result in traffic.records:
        assert result.model_version is not None, "a 64-row request is one chunk, answered by one version"
        if asked is not None:
            assert result.model_version == asked
        # The reported version is the one that computed the scores, not a label.
        np.testing.assert_allclose(result.scores, expected[result.model_version], atol=1e-5, rtol=0)
        served.append((start, end, result.model_version))
    return served


def _versions_on_disk(repo: Path) -> list[int]:
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    text = (repo / MODEL_NAME / "config.pbtxt").read_text()
    return list(text_format.Parse(text, model_config_pb2.ModelConfig()).version_policy.specific.versions)


def _state(server: triton.TritonServer, version: int) -> str:
    client = server.client()
    try:
        index = client.get_model_repository_index(as_json=True).get("models", [])
    finally:
        client.close()
    return next((m["state"] for m in index if m.get("version") == str(version)), "absent")


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_swapping_versions_mid_stream_loses_no_request_and_switches_only_once_ready(
    server: triton.TritonServer, onnx_models: dict[int, bytes], claims: pd.DataFrame
) -> None:
    rows = claims.head(64)
    x = risk.encode_features(rows)
    expected = {v: onnx_export.onnx_predict(b, rows) for v, b in onnx_models.items()}
    assert np.abs(expected[1] - expected[2]).max() > 1e-3  # the versions are distinguishable by their scores

    with _Traffic(server, x, pinned=True) as routed, _Traffic(server, x, pinned=False) as latest:
        time.sleep(0.5)
        swap_started = time.monotonic()
        assert triton.swap_champion(server, 2, onnx_models[2], 1) == [1, 2]
        ready_at = time.monotonic()
        client = server.client()
        assert client.is_model_ready(MODEL_NAME, "2") and client.is_model_ready(MODEL_NAME, "1")
        client.close()
        time.sleep(0.3)
        routed.version = 2  # the caller moves its traffic once the new version is warm
        time.sleep(0.3)
        assert triton.retire(server, 1) == [2]
        assert _state(server, 1) in ("UNAVAILABLE", "absent")  # retire returns after the unload, not before
        time.sleep(0.5)

    pinned = _check_traffic(routed, expected)
    unpinned = _check_traffic(latest, expected)
    assert {v for *_, v in pinned} == {1, 2} and {v for *_, v in unpinned} == {1, 2}
    # Version 2 answered nothing sent before its load began, and pinned traffic only after it was READY.
    assert all(start >= swap_started for start, _, v in pinned + unpinned if v == 2)
    assert all(start >= ready_at for start, _, v in pinned if v == 2)
    # Once the latest version answered, the older one never answered unpinned traffic again.
    versions = [v for *_, v in sorted(unpinned)]
    assert versions == sorted(versions)
    with _scorer(server) as scorer, pytest.raises(ScoringError, match="not at ready state"):
        scorer.score(x, version=1)
    assert _versions_on_disk(server.repo) == [2]  # a restart now would serve what is served
    assert written_versions(server.repo) == [1, 2]  # retired, not deleted: rollback needs it

    # Rollback is the same move backwards.
    assert triton.swap_champion(server, 1, onnx_models[1], 2) == [1, 2]
    assert triton.retire(server, 2) == [1]
    with _scorer(server) as scorer:
        back = scorer.score(x)
    assert back.model_version == 1
    np.testing.assert_allclose(back.scores, expected[1], atol=1e-5, rtol=0)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_statistics_give_compute_time_per_inference_and_a_cost(
    server: triton.TritonServer, claims: pd.DataFrame
) -> None:
    client = server.client()
    try:
        version = triton.ready_versions(client)[-1]
        before = read_statistics(client, version)
        with _scorer(server, max_batch=500) as scorer:
            scorer.score(risk.encode_features(claims), version=version)
        # Triton books a request's statistics when it releases the request, just after the response.
        deadline = time.monotonic() + 5.0
        window = read_statistics(client, version).since(before)
        while window.inference_count < len(claims) and time.monotonic() < deadline:
            time.sleep(0.05)
            window = read_statistics(client, version).since(before)
    finally:
        client.close()
    assert window.inference_count == len(claims)
    assert window.execution_count >= 6 and window.request_count >= 6
    seconds = compute_seconds_per_inference(window)
    assert 0 < seconds < 0.01
    cost = cost_measurement(window, price_per_hour=0.40, version=version)
    assert cost.source == TRITON and cost.model_version == version and cost.inferences == len(claims)
    assert cost.cost_per_inference == pytest.approx(seconds * 0.40 / 3600)
    metrics = read_metrics(server.metrics_url)
    counted = {dict(labels).get("version"): value for (name, labels), value in metrics.items()
               if name == "nv_inference_count" and dict(labels).get("model") == MODEL_NAME}  # fmt: skip
    assert counted.get(str(version), 0) >= len(claims)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_server_killed_mid_batch_gives_serving_unavailable_then_serves_again_after_restart(
    onnx_models: dict[int, bytes], claims: pd.DataFrame, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    write_model_version(repo, 1, onnx_models[1])
    write_config(repo, [1])
    ports = {"http_port": free_port(), "grpc_port": free_port(), "metrics_port": free_port()}
    server = _start(repo, ports)
    try:
        scorer = TritonScorer(server.url_grpc, max_batch=1024, timeout_s=5.0, retries=8, backoff_s=0.05,
                              breaker_failures=4, breaker_reset_s=0.5, wait_for_server_s=2.0)  # fmt: skip
        big = np.tile(risk.encode_features(claims), (400, 1))  # 1.2M rows: seconds of scoring
        killed_at: list[float] = []

        def kill() -> None:
            killed_at.append(time.monotonic())
            server.kill()

        timer = threading.Timer(0.5, kill)
        timer.start()
        with pytest.raises(ServingUnavailable) as raised:
            scorer.score(big)
        raised_at = time.monotonic()
        timer.join()
        assert killed_at, "the scoring call ended before the kill: make the batch larger"
        assert raised_at - killed_at[0] < 2.0 + 5.0 + 2.0  # the wait budget, one call timeout, slack
        message = str(raised.value)
        assert "\n" not in message and server.url_grpc in message and "unavailable" in message
        with pytest.raises(triton.TritonError, match="exited"):
            server.check_alive()
        server.stop()

        server = _start(repo, ports)
        time.sleep(0.5)  # the breaker's reset time: the next call is its probe
        again = scorer.score(risk.encode_features(claims))
        assert again.model_version == 1
        np.testing.assert_allclose(again.scores, onnx_export.onnx_predict(onnx_models[1], claims), atol=1e-5, rtol=0)
        scorer.close()
    finally:
        server.stop()


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_model_that_fails_to_load_stops_the_start_with_the_reason_from_the_log(
    onnx_models: dict[int, bytes], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    write_model_version(repo, 1, onnx_models[1])
    write_config(repo, [1], ServingSettings(encoding_digest="0000000000000000"))
    with pytest.raises(triton.TritonError, match="encoding digest") as raised:
        _start(repo)
    assert "exited" in str(raised.value)


def test_a_missing_binary_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(triton, "_pytriton_root", lambda: tmp_path)
    with pytest.raises(triton.TritonError, match="no tritonserver binary"):
        triton.triton_binary()


@pytest.mark.slow  # trains the two models
def test_the_repository_refuses_other_bytes_under_an_existing_version(
    onnx_models: dict[int, bytes], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    path = write_model_version(repo, 1, onnx_models[1])
    assert write_model_version(repo, 1, onnx_models[1]) == path  # the same bytes again: a no-op
    with pytest.raises(RepositoryError, match="already exists"):
        write_model_version(repo, 1, onnx_models[2])
    with pytest.raises(RepositoryError, match="no model.onnx"):
        write_config(repo, [1, 2])
    assert sorted(p.name for p in path.iterdir()) == ["model.onnx", "model.py"]


@pytest.mark.slow
def test_the_repository_refuses_a_model_encoded_differently(onnx_models: dict[int, bytes], tmp_path: Path) -> None:
    import onnx

    model = onnx.load_from_string(onnx_models[1])
    encoding = risk.FeatureEncoding(vocabularies={**risk.DEFAULT_VOCABULARIES, "area": ("A", "B")})
    for prop in model.metadata_props:
        if prop.key == onnx_export.METADATA_ENCODING:
            prop.value = encoding.to_json()
    with pytest.raises(RepositoryError, match="encoding digest"):
        write_model_version(tmp_path / "repo", 1, model.SerializeToString())
    assert not (tmp_path / "repo" / MODEL_NAME / "1").exists()


def test_the_config_serves_exactly_the_listed_versions_and_is_warm_when_ready() -> None:
    from google.protobuf import json_format

    from models.serving.repository import model_config, model_config_json

    config = model_config([2, 1, 2])
    assert list(config.version_policy.specific.versions) == [1, 2]
    assert config.model_warmup[0].batch_size == ServingSettings().warmup_batch
    assert config.parameters["encoding_digest"].string_value == risk.DEFAULT_ENCODING.digest
    assert json_format.Parse(model_config_json([1, 2]), type(config)()) == model_config([1, 2])
    with pytest.raises(RepositoryError):
        model_config([])
