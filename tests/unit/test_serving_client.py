"""The Triton client's failure policy as pure logic: a fake gRPC client, a fake clock, no server."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from models.risk import DEFAULT_ENCODING
from models.serving.client import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    CircuitBreaker,
    ScoringError,
    ServingUnavailable,
    TritonScorer,
    backoff_delays,
)

WIDTH = DEFAULT_ENCODING.width


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def unavailable() -> InferenceServerException:
    return InferenceServerException("failed to connect to all addresses", status="StatusCode.UNAVAILABLE")


def deadline() -> InferenceServerException:
    return InferenceServerException("Deadline Exceeded", status="StatusCode.DEADLINE_EXCEEDED")


class FakeResponse:
    def __init__(self, probabilities: np.ndarray, version: str) -> None:
        self._probabilities = probabilities
        self.model_version = version

    def as_numpy(self, name: str) -> np.ndarray:
        assert name == "probabilities"
        return self._probabilities

    def get_response(self) -> FakeResponse:
        return self


class FakeGrpcClient:
    """Plays a script: each entry is an exception to raise or a version that answers (P = first feature)."""

    def __init__(self, script: list[object] | None = None, *, default_version: str = "1") -> None:
        self.script = list(script or [])
        self.default_version = default_version
        self.calls: list[dict] = []
        self.rows_override: Callable[[int], int] | None = None

    def infer(self, model_name, inputs, model_version="", outputs=None, client_timeout=None):
        rows = inputs[0].shape()[0]
        self.calls.append({"rows": rows, "version": model_version, "timeout": client_timeout})
        outcome = self.script.pop(0) if self.script else self.default_version
        if isinstance(outcome, Exception):
            raise outcome
        data = inputs[0]._get_content()  # the raw float32 bytes the client serialised
        x = np.frombuffer(data, dtype=np.float32).reshape(rows, WIDTH)
        p = np.clip(np.nan_to_num(x[:, 0], nan=0.5), 0, 1)
        if self.rows_override:
            p = p[: self.rows_override(rows)]
        return FakeResponse(np.stack([1 - p, p], axis=1).astype(np.float32), str(outcome))


def scorer(client: FakeGrpcClient, clock: FakeClock, **kwargs) -> TritonScorer:
    options = {"timeout_s": 2.0, "max_batch": 4, "retries": 3, "backoff_s": 0.1, "max_backoff_s": 1.0,
               "breaker_failures": 5, "breaker_reset_s": 2.0, "wait_for_server_s": 10.0} | kwargs  # fmt: skip
    return TritonScorer("127.0.0.1:1", client=client, clock=clock, sleep=clock.sleep, **options)


def features(rows: int) -> np.ndarray:
    x = np.zeros((rows, WIDTH), dtype=np.float32)
    x[:, 0] = np.linspace(0.0, 1.0, rows)
    return x


# -- circuit breaker ----------------------------------------------------------------------------


def test_breaker_opens_after_the_configured_consecutive_failures_only() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(3, 5.0, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # a success in between: the count starts over
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN
    assert not breaker.allow()
    assert breaker.seconds_until_probe() == pytest.approx(5.0)


def test_breaker_half_opens_after_reset_time_and_lets_one_probe_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 5.0, clock=clock)
    breaker.record_failure()
    clock.now = 4.9
    assert not breaker.allow()
    clock.now = 5.0
    assert breaker.state == HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()  # a second caller waits for the probe's outcome


def test_a_successful_probe_closes_the_breaker() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 1.0, clock=clock)
    breaker.record_failure()
    clock.now = 1.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == CLOSED and breaker.allow() and breaker.allow()


def test_a_failed_probe_reopens_the_breaker_for_another_reset_period() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(2, 1.0, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now = 1.5
    assert breaker.allow()
    breaker.record_failure()  # one failure suffices in half-open
    assert breaker.state == OPEN
    assert breaker.seconds_until_probe() == pytest.approx(1.0)


# -- retries and backoff -----------------------------------------------------------------------


def test_backoff_doubles_from_the_base_and_is_capped() -> None:
    assert backoff_delays(5, 0.05, 0.3) == [0.05, 0.1, 0.2, 0.3, 0.3]
    assert backoff_delays(0, 0.05, 0.3) == []


def test_transient_failures_are_retried_on_the_backoff_schedule() -> None:
    clock = FakeClock()
    client = FakeGrpcClient([unavailable(), deadline(), "1"])
    result = scorer(client, clock).score(features(3))
    assert clock.sleeps == [0.1, 0.2]
    assert len(client.calls) == 3
    assert result.model_version == 1 and result.served_by == "triton"
    np.testing.assert_allclose(result.scores, [0.0, 0.5, 1.0], atol=1e-7)


def test_every_attempt_carries_the_per_call_timeout() -> None:
    clock = FakeClock()
    client = FakeGrpcClient([deadline(), "1"])
    scorer(client, clock, timeout_s=0.75).score(features(2))
    assert [c["timeout"] for c in client.calls] == [0.75, 0.75]


def test_exhausted_retries_raise_serving_unavailable_in_one_line_and_return_nothing() -> None:
    clock = FakeClock()
    client = FakeGrpcClient(["1", unavailable(), unavailable(), unavailable(), unavailable()])
    with pytest.raises(ServingUnavailable) as raised:
        scorer(client, clock).score(features(6))  # first chunk succeeds, the second never does
    message = str(raised.value)
    assert "\n" not in message
    assert "127.0.0.1:1" in message and "UNAVAILABLE" in message and "4 attempt(s)" in message
    assert clock.sleeps == [0.1, 0.2, 0.4]


def test_the_wait_for_the_server_is_bounded_even_with_retries_left() -> None:
    clock = FakeClock()
    client = FakeGrpcClient([unavailable()] * 50)
    with pytest.raises(ServingUnavailable):
        scorer(client, clock, retries=20, max_backoff_s=0.4, wait_for_server_s=1.0, breaker_failures=100).score(
            features(1)
        )
    assert sum(clock.sleeps) <= 1.0
    assert clock.sleeps == [0.1, 0.2, 0.4]  # the next 0.4 would pass the 1 s budget


def test_a_request_the_server_rejects_is_not_retried_and_does_not_trip_the_breaker() -> None:
    clock = FakeClock()
    bad = InferenceServerException("unexpected shape", status="StatusCode.INVALID_ARGUMENT")
    client = FakeGrpcClient([bad])
    s = scorer(client, clock, breaker_failures=1)
    with pytest.raises(ScoringError, match="INVALID_ARGUMENT"):
        s.score(features(2))
    assert clock.sleeps == [] and len(client.calls) == 1
    assert s.breaker.state == CLOSED


def test_a_version_that_is_not_loaded_is_an_answer_not_an_outage() -> None:
    # Triton says UNAVAILABLE for a retired version; retrying it tripped the breaker for every caller.
    clock = FakeClock()
    retired = InferenceServerException(
        "Request for unknown model: 'claims_risk' version 1 is not at ready state", status="StatusCode.UNAVAILABLE"
    )
    client = FakeGrpcClient([retired])
    s = scorer(client, clock, breaker_failures=1)
    with pytest.raises(ScoringError, match="not at ready state"):
        s.score(features(1), version=1)
    assert len(client.calls) == 1 and s.breaker.state == CLOSED


def test_an_open_circuit_fails_fast_without_calling_the_server() -> None:
    clock = FakeClock()
    client = FakeGrpcClient([unavailable()] * 3)
    s = scorer(client, clock, retries=5, breaker_failures=3, breaker_reset_s=30.0, wait_for_server_s=1.0)
    with pytest.raises(ServingUnavailable, match="circuit open"):
        s.score(features(1))
    calls = len(client.calls)
    assert calls == 3
    with pytest.raises(ServingUnavailable, match="circuit open"):
        s.score(features(1))
    assert len(client.calls) == calls


def test_after_the_reset_time_one_probe_closes_the_circuit_again() -> None:
    clock = FakeClock()
    client = FakeGrpcClient([unavailable(), unavailable()])
    s = scorer(client, clock, retries=1, breaker_failures=2, breaker_reset_s=5.0, wait_for_server_s=1.0)
    with pytest.raises(ServingUnavailable):
        s.score(features(1))
    assert s.breaker.state == OPEN
    clock.now += 5.0
    assert s.score(features(2)).model_version == 1
    assert s.breaker.state == CLOSED


def test_a_call_waits_for_the_probe_when_the_reset_falls_inside_its_budget() -> None:
    clock = FakeClock()
    client = FakeGrpcClient([unavailable(), unavailable()])
    s = scorer(client, clock, retries=1, backoff_s=0.01, breaker_failures=2, breaker_reset_s=0.5, wait_for_server_s=0.2)
    with pytest.raises(ServingUnavailable):
        s.score(features(1))
    clock.now += 0.4
    s.wait_for_server_s = 1.0
    assert s.score(features(1)).model_version == 1
    assert clock.sleeps[-1] == pytest.approx(0.1)  # slept until the probe was due, not one backoff step


# -- chunking and provenance -------------------------------------------------------------------


def test_rows_are_sent_in_chunks_of_max_batch_and_reassembled_in_order() -> None:
    clock = FakeClock()
    client = FakeGrpcClient()
    x = features(10)
    result = scorer(client, clock, max_batch=4).score(x)
    assert [c["rows"] for c in client.calls] == [4, 4, 2]
    np.testing.assert_allclose(result.scores, x[:, 0], atol=1e-7)
    assert result.scores.dtype == np.float64 and result.model_versions.tolist() == [1] * 10


def test_rows_scored_by_different_versions_are_reported_per_row() -> None:
    clock = FakeClock()
    client = FakeGrpcClient(["1", "1", "2"])
    result = scorer(client, clock, max_batch=4).score(features(10))
    assert result.model_version is None and result.mixed_versions
    assert result.model_versions.tolist() == [1] * 8 + [2] * 2
    assert result.versions == (1, 2)


def test_the_requested_version_is_sent_and_checked_against_the_answer() -> None:
    clock = FakeClock()
    client = FakeGrpcClient(["2"])
    with pytest.raises(ScoringError, match="asked claims_risk version 1, version 2 answered"):
        scorer(client, clock).score(features(2), version=1)
    assert client.calls[0]["version"] == "1"


def test_an_answer_with_the_wrong_number_of_rows_is_an_error_not_a_score() -> None:
    clock = FakeClock()
    client = FakeGrpcClient()
    client.rows_override = lambda rows: rows - 1
    with pytest.raises(ScoringError, match="returned \\[2, 2\\] for 3 rows"):
        scorer(client, clock).score(features(3))


def test_missing_values_are_sent_and_infinite_ones_refused() -> None:
    clock = FakeClock()
    client = FakeGrpcClient()
    x = features(2)
    x[0, 5] = np.nan
    assert len(scorer(client, clock).score(x).scores) == 2
    x[1, 5] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        scorer(client, clock).score(x)


def test_the_wrong_feature_width_is_refused_before_any_call() -> None:
    clock = FakeClock()
    client = FakeGrpcClient()
    with pytest.raises(ValueError, match=f"\\[rows, {WIDTH}\\]"):
        scorer(client, clock).score(np.zeros((3, WIDTH - 1), dtype=np.float32))
    assert client.calls == []


def test_no_rows_means_no_call() -> None:
    clock = FakeClock()
    client = FakeGrpcClient()
    result = scorer(client, clock).score(np.zeros((0, WIDTH), dtype=np.float32))
    assert len(result.scores) == 0 and client.calls == [] and not result.mixed_versions
