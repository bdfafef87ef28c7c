"""Run the Triton binary that ships in the `nvidia-pytriton` wheel on a plain model repository.

The wheel keeps the Python backend's stub per Python version and its shared
libraries in `nvidia_pytriton.libs`, so a plain `tritonserver` needs what pytriton
itself prepares (pytriton/triton.py `_prepare_triton_inference_server`,
server/triton_server.py `_get_env`):

- a backend directory whose `python/` holds `libtriton_python.so` and the stub
  built for *this* interpreter's version (copied into a private work directory);
- `LD_LIBRARY_PATH` = this interpreter's LIBDIR first: the stub links `libpython3.x`
  and would otherwise pick the system one and fail to load models with
  `'_thread.RLock' object has no attribute '_recursion_count'`; then the wheel's
  libs (the copied stub's RPATH no longer reaches them);
- `PATH` starting with this environment's `bin`: the embedded interpreter locates
  its prefix from `python3` on PATH, finds the venv's `pyvenv.cfg` and so imports
  the venv's numpy and onnxruntime (pytriton's own mechanism);
- a unique shared-memory prefix for the stubs, so two servers on one host (tests,
  other agents) never share regions, and the regions are removed on stop even when
  the server was killed.

Model control is explicit by default: the server starts with `claims_risk` as the
repository's config.pbtxt says, and versions move with `load_versions`, which
loads a config override whose version policy lists exactly the versions to serve.
Triton keeps serving a loaded version while others load, and drains a version's
in-flight requests before unloading it; `swap_champion` and `retire` build on that.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from models.serving.repository import (
    MODEL_NAME,
    ServingSettings,
    model_config_json,
    write_config,
    write_model_version,
)

DEFAULT_HTTP_PORT = 8000
DEFAULT_GRPC_PORT = 8001
DEFAULT_METRICS_PORT = 8002
HOST = "127.0.0.1"
LOG_TAIL_LINES = 25
SHM_DIR = Path("/dev/shm")
# The Python backend's default 1 MiB stub region grows by 1 MiB at a time; one
# 4096-row batch is 0.6 MiB in and 32 KiB out per request, so start larger.
SHM_DEFAULT_BYTES = 16 * 1024 * 1024
SHM_GROWTH_BYTES = 16 * 1024 * 1024


class TritonError(RuntimeError):
    """The server could not be started, died, or refused a model operation; the message says why."""


def _pytriton_root() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pytriton")
    if spec is None or spec.origin is None:
        raise TritonError("nvidia-pytriton is not installed: it ships the tritonserver binary (pip install nvidia-pytriton)")
    return Path(spec.origin).parent


def triton_binary() -> Path:
    """Path of the `tritonserver` binary in the nvidia-pytriton wheel; `TritonError` if absent."""
    binary = _pytriton_root() / "tritonserver" / "bin" / "tritonserver"
    if not binary.is_file():
        raise TritonError(f"no tritonserver binary at {binary}; reinstall nvidia-pytriton for this platform")
    return binary


def _prepare_backends(workdir: Path) -> Path:
    dist = _pytriton_root() / "tritonserver"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = dist / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.is_file():
        raise TritonError(f"nvidia-pytriton ships no Python backend stub for Python {version} ({stub})")
    backends = workdir / "backends"
    shutil.copytree(dist / "backends", backends, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(stub, backends / "python" / "triton_python_backend_stub")
    return backends


def server_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for tritonserver and its Python stubs (see the module docstring)."""
    env = dict(os.environ if base is None else base)
    libdir = sysconfig.get_config_var("LIBDIR")
    wheel_libs = _pytriton_root().parent / "nvidia_pytriton.libs"
    parts = [p for p in (libdir, env.get("LD_LIBRARY_PATH", ""), os.fspath(wheel_libs)) if p]
    env["LD_LIBRARY_PATH"] = ":".join(parts)
    env["PATH"] = os.pathsep.join([os.fspath(Path(sys.exec_prefix) / "bin"), env.get("PATH", "")])
    # Our own repository on the stub's path is never needed: model.py is self-contained.
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    return env


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class TritonServer:
    """A running tritonserver process: its endpoints, log and private work directory."""

    repo: Path
    http_port: int
    grpc_port: int
    metrics_port: int
    log_path: Path
    settings: ServingSettings
    process: subprocess.Popen | None = None
    workdir: Path | None = None
    shm_prefix: str = ""
    _log_file: object = field(default=None, repr=False)

    @property
    def url_grpc(self) -> str:
        """host:port, the form `tritonclient.grpc.InferenceServerClient` takes."""
        return f"{HOST}:{self.grpc_port}"

    @property
    def url_http(self) -> str:
        """host:port, the form `tritonclient.http.InferenceServerClient` takes."""
        return f"{HOST}:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        """Prometheus text endpoint (nv_inference_* counters per model and version)."""
        return f"http://{HOST}:{self.metrics_port}/metrics"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.log_path, lines)

    def client(self):
        """A gRPC client for management calls (load, unload, statistics); close it after use."""
        import tritonclient.grpc as grpcclient

        return grpcclient.InferenceServerClient(self.url_grpc)

    def check_alive(self) -> None:
        """Raise `TritonError` with the log's tail if the process has exited."""
        if not self.alive():
            code = self.process.returncode if self.process else None
            raise TritonError(f"tritonserver exited with code {code}; last log lines:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the server (tests of the failure path); `stop` still cleans up afterwards."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL), its stubs, and remove its work directory and shm regions."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process is not None:
            _kill_group(self.process.pid)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self.shm_prefix:
            for region in SHM_DIR.glob(f"{self.shm_prefix}*"):
                region.unlink(missing_ok=True)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _kill_group(pgid: int) -> None:
    # The stubs are children in the server's session; after a SIGKILL of the
    # server they would linger until their parent-death check fires.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def start_triton(
    repo: Path,
    *,
    http_port: int = DEFAULT_HTTP_PORT,
    grpc_port: int = DEFAULT_GRPC_PORT,
    metrics_port: int = DEFAULT_METRICS_PORT,
    model_control: str = "explicit",
    log_path: Path | None = None,
    timeout: float = 120.0,
    settings: ServingSettings | None = None,
    log_verbose: int = 0,
    extra_args: Sequence[str] = (),
) -> TritonServer:
    """Start tritonserver on `repo` (loopback only) and return once the server and `claims_risk` are ready.

    With `model_control="explicit"` the server loads `claims_risk` at start as
    `<repo>/claims_risk/config.pbtxt` says (write it with
    `repository.write_config`); "none" and "poll" are Triton's other modes.
    Ready means warm: Triton runs the config's warm-up before a version is READY.
    Raises `TritonError` with the log's tail if the server exits or is not ready
    within `timeout` seconds (the process is stopped in both cases).
    """
    if model_control not in ("explicit", "none", "poll"):
        raise ValueError(f"model_control must be 'explicit', 'none' or 'poll', not {model_control!r}")
    settings = settings or ServingSettings()
    repo = Path(repo).resolve()
    if not (repo / MODEL_NAME / "config.pbtxt").is_file():
        raise TritonError(f"{repo} has no {MODEL_NAME}/config.pbtxt; write it with models.serving.repository")
    binary = triton_binary()
    workdir = Path(tempfile.mkdtemp(prefix="claimflow-triton-"))
    log_path = Path(log_path) if log_path else workdir / "tritonserver.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    shm_prefix = f"claimflow-{os.getpid()}-{secrets.token_hex(4)}-"
    server = TritonServer(repo, http_port, grpc_port, metrics_port, log_path, settings, workdir=workdir,
                          shm_prefix=shm_prefix)  # fmt: skip
    try:
        backends = _prepare_backends(workdir)
        cmd = [
            os.fspath(binary),
            f"--model-repository={repo}",
            f"--backend-directory={backends}",
            f"--cache-directory={_pytriton_root() / 'tritonserver' / 'caches'}",
            f"--model-control-mode={model_control}",
            f"--http-address={HOST}", f"--http-port={http_port}",
            f"--grpc-address={HOST}", f"--grpc-port={grpc_port}",
            f"--metrics-address={HOST}", f"--metrics-port={metrics_port}",
            "--allow-gpu-metrics=false",
            f"--backend-config=python,shm-region-prefix-name={shm_prefix}",
            f"--backend-config=python,shm-default-byte-size={SHM_DEFAULT_BYTES}",
            f"--backend-config=python,shm-growth-byte-size={SHM_GROWTH_BYTES}",
            "--exit-on-error=true",
            "--exit-timeout-secs=10",
            f"--log-verbose={log_verbose}",
        ]  # fmt: skip
        if model_control == "explicit":
            cmd.append(f"--load-model={MODEL_NAME}")
        cmd += list(extra_args)
        server._log_file = open(log_path, "ab")  # noqa: SIM115 - open as long as the server runs
        server.process = subprocess.Popen(
            cmd, stdout=server._log_file, stderr=subprocess.STDOUT, env=server_environment(),
            start_new_session=True, cwd=workdir,
        )  # fmt: skip
        wait_ready(server, timeout=timeout)
    except BaseException:
        server.stop()
        raise
    return server


def wait_ready(server: TritonServer, *, timeout: float, versions: Iterable[int] | None = None) -> None:
    """Block until the server is live and ready and `claims_risk` (each of `versions`) is READY."""
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    client = grpcclient.InferenceServerClient(server.url_grpc)
    wanted = [str(v) for v in versions] if versions is not None else [""]
    deadline = time.monotonic() + timeout
    try:
        while True:
            server.check_alive()
            try:
                if client.is_server_ready(client_timeout=2.0) and all(
                    client.is_model_ready(MODEL_NAME, v, client_timeout=2.0) for v in wanted
                ):
                    return
            except InferenceServerException:
                pass
            if time.monotonic() > deadline:
                raise TritonError(
                    f"tritonserver at {server.url_grpc} not ready with {MODEL_NAME} within {timeout:.0f} s; "
                    f"last log lines:\n{server.log_tail()}"
                )
            time.sleep(0.1)
    finally:
        client.close()


def ready_versions(client, model: str = MODEL_NAME) -> list[int]:
    """Versions of `model` the server reports READY (from the repository index)."""
    index = client.get_model_repository_index(as_json=True).get("models", [])
    return sorted(int(m["version"]) for m in index if m.get("name") == model and m.get("state") == "READY" and m.get("version"))


def load_versions(
    client, versions: Iterable[int], *, settings: ServingSettings | None = None, model: str = MODEL_NAME
) -> list[int]:
    """Serve exactly `versions`: load a config override listing them; returns them once each is READY.

    Versions already loaded keep serving throughout; versions no longer listed are
    unloaded after their in-flight requests finish. Blocks until the load is done.
    """
    from tritonclient.utils import InferenceServerException

    wanted = sorted({int(v) for v in versions})
    try:
        client.load_model(model, config=model_config_json(wanted, settings or ServingSettings()))
    except InferenceServerException as exc:
        raise TritonError(f"loading {model} versions {wanted} failed: {exc.message()}") from None
    not_ready = [v for v in wanted if not client.is_model_ready(model, str(v))]
    if not_ready:
        raise TritonError(f"{model} version(s) {not_ready} not READY after the load")
    return wanted


def unload(client, *, model: str = MODEL_NAME) -> None:
    """Unload every version of `model` (in-flight requests finish first)."""
    from tritonclient.utils import InferenceServerException

    try:
        client.unload_model(model)
    except InferenceServerException as exc:
        raise TritonError(f"unloading {model} failed: {exc.message()}") from None


def swap_champion(server: TritonServer, new_version: int, onnx_bytes: bytes, old_version: int) -> list[int]:
    """Bring `new_version` up beside `old_version` and return once it is READY (warm); `old_version` keeps serving.

    The caller then moves its traffic to `new_version` (requests name their
    version) and calls `retire(server, old_version)`. Rollback is the same move
    backwards: `swap_champion(server, old, old_bytes, new)` then `retire(server, new)`.
    The repository's config.pbtxt follows each step, so a restart serves the same.
    """
    new_version, old_version = int(new_version), int(old_version)
    if new_version == old_version:
        raise ValueError(f"new and old version are both {new_version}")
    server.check_alive()
    client = server.client()
    try:
        if old_version not in ready_versions(client):
            raise TritonError(f"version {old_version} is not being served; nothing to swap from")
        write_model_version(server.repo, new_version, onnx_bytes)
        both = [old_version, new_version]
        write_config(server.repo, both, server.settings)
        try:
            return load_versions(client, both, settings=server.settings)
        except TritonError:
            # A failed load leaves the served versions as they were; so must the file.
            write_config(server.repo, [old_version], server.settings)
            raise
    finally:
        client.close()


def retire(server: TritonServer, old_version: int, *, timeout: float = 60.0) -> list[int]:
    """Stop serving `old_version`, keeping every other READY version; returns the versions still served.

    Returns once `old_version` is fully unloaded (its in-flight requests answered),
    or raises `TritonError` after `timeout` seconds. Its directory stays for rollback.
    """
    old_version = int(old_version)
    server.check_alive()
    client = server.client()
    try:
        keep = [v for v in ready_versions(client) if v != old_version]
        if not keep:
            raise TritonError(f"retiring version {old_version} would leave {MODEL_NAME} with no version")
        write_config(server.repo, keep, server.settings)
        served = load_versions(client, keep, settings=server.settings)
        _wait_unloaded(client, old_version, timeout=timeout)
        return served
    finally:
        client.close()


def _wait_unloaded(client, version: int, *, timeout: float) -> None:
    # load_model returns once the kept versions are ready; the retired one is
    # unloaded after its in-flight requests finish, so wait for that too.
    deadline = time.monotonic() + timeout
    while True:
        states = {
            int(m["version"]): m.get("state")
            for m in client.get_model_repository_index(as_json=True).get("models", [])
            if m.get("name") == MODEL_NAME and m.get("version")
        }
        if states.get(version) not in ("READY", "UNLOADING", "LOADING"):
            return
        if time.monotonic() > deadline:
            raise TritonError(f"version {version} still {states.get(version)} {timeout:.0f} s after it was retired")
        time.sleep(0.05)
