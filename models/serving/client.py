"""Score encoded claims on Triton, or on an in-process onnxruntime fallback, with provenance.

`TritonScorer.score` sends `models.risk.encode_features` output to `claims_risk`
over gRPC in chunks of `max_batch` rows and returns P(high_risk) per row with the
version that scored each row, read from every response (never assumed: during a
swap, an unpinned request may be answered by either version).

Failure policy, from the caller's point of view:

- a transport failure (UNAVAILABLE: server down or restarting; DEADLINE_EXCEEDED:
  the per-call `timeout_s` ran out) is retried with exponential backoff
  (`backoff_s`, doubling, capped at `max_backoff_s`), at most `retries` times per
  chunk, and no retry starts later than `wait_for_server_s` after the outage's
  first failure (so a call gives up within that plus one `timeout_s`); then
  `ServingUnavailable` (one line: where, what, how long) and no partial result;
- a circuit breaker opens after `breaker_failures` consecutive transport failures,
  so later calls fail fast instead of each waiting out its retries; after
  `breaker_reset_s` one probe goes through (half-open) and its outcome closes or
  re-opens the circuit;
- any other server answer (bad input, a version that is not loaded, a model
  error) raises `ScoringError` at once: retrying would not change it;
- an answer that does not fit the request (rows, shape, version, a NaN score)
  raises `ScoringError`: never a silently wrong score.

Scoring is a pure function of the input, so a retried request is safe.
The fallback (`OnnxFallbackScorer`) is never chosen here; the caller decides.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

import numpy as np

from connectors.tracing import outside_call
from models.onnx_export import (
    INPUT_NAME,
    OUTPUT_NAME,
    POSITIVE_COLUMN,
    encoding_from_onnx,
)
from models.risk import DEFAULT_ENCODING
from models.serving.repository import MODEL_NAME

SERVED_BY_TRITON = "triton"
SERVED_BY_FALLBACK = "onnxruntime-fallback"
RETRYABLE = frozenset({"StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED"})
# Triton answers UNAVAILABLE for a model version that exists but is not loaded
# (retired, or never loaded): the server is up and a retry would not change it.
_NOT_SERVED = "Request for unknown model"
_MAX_MESSAGE = 2**31 - 1


class ServingUnavailable(RuntimeError):
    """Triton could not be reached (or kept timing out) within the wait budget; nothing was scored."""


class ScoringError(RuntimeError):
    """Triton answered, but with an error or an answer that does not fit the request."""


@dataclass(frozen=True)
class ScoreResult:
    """P(high_risk) per row and who scored it.

    `model_versions[i]` is the version that scored row i. `model_version` is that
    version when every row shares it, and None when the rows were split across
    versions (a swap happened mid-call): the caller must then read `model_versions`.
    """

    scores: np.ndarray
    model_version: int | None
    model_versions: np.ndarray
    served_by: str

    @property
    def mixed_versions(self) -> bool:
        return self.model_version is None and len(self.scores) > 0

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(int(v) for v in np.unique(self.model_versions))


def _result(scores: list[np.ndarray], versions: list[np.ndarray], served_by: str) -> ScoreResult:
    all_scores = np.concatenate(scores) if scores else np.zeros(0, dtype=np.float64)
    all_versions = np.concatenate(versions) if versions else np.zeros(0, dtype=np.int64)
    distinct = np.unique(all_versions)
    single = int(distinct[0]) if len(distinct) == 1 else None
    return ScoreResult(all_scores.astype(np.float64), single, all_versions.astype(np.int64), served_by)


def _as_features(encoded: np.ndarray) -> np.ndarray:
    x = np.asarray(encoded)
    width = DEFAULT_ENCODING.width
    if x.ndim != 2 or x.shape[1] != width:
        raise ValueError(f"expected encoded features of shape [rows, {width}], got {list(x.shape)}")
    if np.isinf(x).any():
        raise ValueError("encoded features contain infinite values (NaN marks a missing value, inf is an error)")
    return np.ascontiguousarray(x, dtype=np.float32)


CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    """Consecutive-failure circuit breaker: closed -> open after N failures -> half-open after `reset_s` -> closed.

    Half-open lets exactly one probe through; its success closes the circuit,
    its failure re-opens it for another `reset_s`. Thread-safe.
    """

    def __init__(self, failures: int, reset_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if failures < 1 or reset_s < 0:
            raise ValueError("failures must be >= 1 and reset_s >= 0")
        self.failures_to_open = failures
        self.reset_s = reset_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> str:
        with self._lock:
            self._advance()
            return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def _advance(self) -> None:
        if self._state == OPEN and self._clock() - self._opened_at >= self.reset_s:
            self._state = HALF_OPEN
            self._probe_in_flight = False

    def allow(self) -> bool:
        """May a request go out now? In half-open, True for one probe only."""
        with self._lock:
            self._advance()
            if self._state == CLOSED:
                return True
            if self._state == HALF_OPEN and not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            return False

    def seconds_until_probe(self) -> float:
        """How long until `allow` can say yes again (0 when closed or a half-open probe is free)."""
        with self._lock:
            self._advance()
            if self._state == OPEN:
                return max(0.0, self._opened_at + self.reset_s - self._clock())
            return 0.0

    def record_success(self) -> None:
        with self._lock:
            self._state, self._failures, self._probe_in_flight = CLOSED, 0, False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state == HALF_OPEN or self._failures >= self.failures_to_open:
                self._state, self._opened_at, self._probe_in_flight = OPEN, self._clock(), False


def backoff_delays(retries: int, backoff_s: float, max_backoff_s: float) -> list[float]:
    """The sleep before each retry: backoff_s, 2 backoff_s, 4 backoff_s, ... capped at max_backoff_s."""
    return [min(backoff_s * 2**i, max_backoff_s) for i in range(retries)]


def _status(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    return str(status() if callable(status) else status or "")


def _message(exc: Exception) -> str:
    message = getattr(exc, "message", None)
    text = message() if callable(message) else str(exc)
    return " ".join(str(text).split())


class TritonScorer:
    """gRPC client of `claims_risk` with chunking, per-call timeout, retries, a circuit breaker and a bounded wait.

    `client` replaces the tritonclient gRPC client (tests pass a fake with the same
    `infer` method); `clock` and `sleep` likewise.
    """

    def __init__(
        self,
        url_grpc: str,
        model: str = MODEL_NAME,
        *,
        timeout_s: float = 5.0,
        max_batch: int = 4096,
        retries: int = 4,
        backoff_s: float = 0.05,
        max_backoff_s: float = 1.0,
        breaker_failures: int = 5,
        breaker_reset_s: float = 2.0,
        wait_for_server_s: float = 10.0,
        client: object | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_batch < 1 or timeout_s <= 0 or retries < 0 or backoff_s < 0 or wait_for_server_s < 0:
            raise ValueError("max_batch >= 1, timeout_s > 0, and retries, backoff_s, wait_for_server_s >= 0")
        self.url_grpc = url_grpc
        self.model = model
        self.timeout_s = timeout_s
        self.max_batch = max_batch
        self.delays = backoff_delays(retries, backoff_s, max_backoff_s)
        self.wait_for_server_s = wait_for_server_s
        self.breaker = CircuitBreaker(breaker_failures, breaker_reset_s, clock=clock)
        self._clock = clock
        self._sleep = sleep
        self._last_error = "no failure yet"
        self._client = client if client is not None else self._grpc_client(url_grpc, backoff_s, max_backoff_s)

    @staticmethod
    def _grpc_client(url: str, backoff_s: float, max_backoff_s: float):
        import tritonclient.grpc as grpcclient

        # gRPC's default reconnect backoff grows to 120 s: after a server restart the
        # channel would refuse calls long after the server is back.
        reconnect_ms = max(int(backoff_s * 1000), 50)
        options = [
            ("grpc.max_send_message_length", _MAX_MESSAGE),
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.initial_reconnect_backoff_ms", reconnect_ms),
            ("grpc.min_reconnect_backoff_ms", reconnect_ms),
            ("grpc.max_reconnect_backoff_ms", max(int(max_backoff_s * 1000), reconnect_ms)),
        ]
        return grpcclient.InferenceServerClient(url, channel_args=options)

    def score(self, encoded: np.ndarray, version: int | None = None) -> ScoreResult:
        """P(high_risk) for each row of `encoded` (float32-able [rows, 36], NaN allowed), from `version` or the latest.

        Raises `ServingUnavailable` when Triton stays unreachable past the retry
        and wait budget, `ScoringError` when it answers wrongly; never returns
        a partial result.
        """
        x = _as_features(encoded)
        budget = _WaitBudget(self._clock, self.wait_for_server_s)
        scores, versions = [], []
        with outside_call("triton", "infer", claims=len(x), model=self.model, model_version=version) as span:
            try:
                for start in range(0, len(x), self.max_batch):
                    chunk = x[start : start + self.max_batch]
                    probabilities, served = self._score_chunk(chunk, version, budget)
                    scores.append(probabilities)
                    versions.append(np.full(len(chunk), served, dtype=np.int64))
            finally:  # the circuit's state is what the on-call engineer's metric reads
                span.set_attribute("claimflow.circuit", self.breaker.state)
                span.set_attribute("claimflow.failures", self.breaker.consecutive_failures)
        return _result(scores, versions, SERVED_BY_TRITON)

    def _score_chunk(self, chunk: np.ndarray, version: int | None, budget: _WaitBudget) -> tuple[np.ndarray, int]:
        attempts = 0
        while True:
            if not self.breaker.allow():
                wait = max(self.breaker.seconds_until_probe(), self.delays[0] if self.delays else 0.0, 0.01)
                if not budget.can_wait(wait):
                    raise self._unavailable(f"circuit open after {self._last_error}", attempts, budget)
                budget.sleep(self._sleep, wait)
                continue
            attempts += 1
            try:
                response = self._infer(chunk, version)
            except Exception as exc:  # noqa: BLE001 - classified below, re-raised as ours
                status = _status(exc)
                if status not in RETRYABLE or _message(exc).startswith(_NOT_SERVED):
                    self.breaker.record_success()  # the server answered: it is up, the request is wrong
                    raise ScoringError(f"{self.model} on {self.url_grpc}: {status or type(exc).__name__}: "
                                       f"{_message(exc)}") from None  # fmt: skip
                self.breaker.record_failure()
                budget.mark_failure()
                self._last_error = f"{status.removeprefix('StatusCode.')}: {_message(exc)}"
                retry = attempts - 1
                if retry >= len(self.delays) or not budget.can_wait(self.delays[retry]):
                    raise self._unavailable(self._last_error, attempts, budget) from None
                budget.sleep(self._sleep, self.delays[retry])
                continue
            self.breaker.record_success()
            budget.reset()
            return self._check(response, chunk, version)

    def _infer(self, chunk: np.ndarray, version: int | None):
        import tritonclient.grpc as grpcclient

        features = grpcclient.InferInput(INPUT_NAME, list(chunk.shape), "FP32")
        features.set_data_from_numpy(chunk)
        return self._client.infer(
            self.model,
            [features],
            model_version="" if version is None else str(int(version)),
            outputs=[grpcclient.InferRequestedOutput(OUTPUT_NAME)],
            client_timeout=self.timeout_s,
        )

    def _check(self, response, chunk: np.ndarray, version: int | None) -> tuple[np.ndarray, int]:
        probabilities = response.as_numpy(OUTPUT_NAME)
        served_text = response.get_response().model_version
        if not served_text:
            raise ScoringError(f"{self.model} answered without a model version")
        served = int(served_text)
        if version is not None and served != int(version):
            raise ScoringError(f"asked {self.model} version {version}, version {served} answered")
        if probabilities is None or probabilities.shape != (len(chunk), 2):
            shape = None if probabilities is None else list(probabilities.shape)
            raise ScoringError(f"{self.model} version {served} returned {shape} for {len(chunk)} rows")
        positive = probabilities[:, POSITIVE_COLUMN].astype(np.float64)
        if not np.isfinite(positive).all() or (positive < 0).any() or (positive > 1).any():
            raise ScoringError(f"{self.model} version {served} returned scores outside [0, 1]")
        return positive, served

    def _unavailable(self, reason: str, attempts: int, budget: _WaitBudget) -> ServingUnavailable:
        return ServingUnavailable(
            f"Triton at {self.url_grpc} unavailable for {self.model}: {reason} "
            f"({attempts} attempt(s), waited {budget.waited:.1f} s of {self.wait_for_server_s:g} s; "
            f"circuit {self.breaker.state})"
        )

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if close:
            close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _WaitBudget:
    """Time one `score` call has spent in the current outage; it may not exceed `limit` seconds."""

    def __init__(self, clock: Callable[[], float], limit: float) -> None:
        self._clock = clock
        self.limit = limit
        self._since: float | None = None

    def reset(self) -> None:
        """The server answered: the next failure starts a new outage."""
        self._since = None

    def mark_failure(self) -> None:
        if self._since is None:
            self._since = self._clock()

    @property
    def waited(self) -> float:
        return 0.0 if self._since is None else self._clock() - self._since

    def can_wait(self, seconds: float) -> bool:
        return self.waited + seconds <= self.limit

    def sleep(self, sleep: Callable[[float], None], seconds: float) -> None:
        self.mark_failure()
        sleep(seconds)


class OnnxFallbackScorer:
    """The same `score` contract on in-process onnxruntime; `served_by="onnxruntime-fallback"`.

    Only for callers configured to fall back (the provenance says so on every
    result); it scores exactly the bytes of `version` it was given.
    """

    def __init__(self, onnx_bytes: bytes, version: int, *, threads: int = 1) -> None:
        import onnxruntime as ort

        digest = encoding_from_onnx(onnx_bytes).digest
        if digest != DEFAULT_ENCODING.digest:
            raise ValueError(f"model encoding digest {digest} is not the client's {DEFAULT_ENCODING.digest}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        self.version = int(version)

    def score(self, encoded: np.ndarray, version: int | None = None) -> ScoreResult:
        """P(high_risk) per row; `version`, if given, must be the one this scorer holds."""
        if version is not None and int(version) != self.version:
            raise ScoringError(f"the fallback holds version {self.version}, not {version}")
        x = _as_features(encoded)
        if len(x) == 0:
            return _result([], [], SERVED_BY_FALLBACK)
        (probabilities,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: x})
        scores = probabilities[:, POSITIVE_COLUMN].astype(np.float64)
        return ScoreResult(scores, self.version, np.full(len(x), self.version, dtype=np.int64), SERVED_BY_FALLBACK)
