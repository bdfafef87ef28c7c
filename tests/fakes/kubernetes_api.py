"""A loopback fake of the few Kubernetes API calls Dagster's K8sRunLauncher and k8s_job_executor make,
with a "kubelet" that runs each Job's container as a local process.

Endpoints: batch/v1 Jobs (create, read, read status, delete), core/v1 pods (list by label selector,
read, log). On create, the Job's container command and args run as a child process with the container's
`env` plus every key of the secrets and config maps it names in `envFrom` (the secrets live in this fake,
as a cluster's would). The pod gets the Job's template labels plus `job-name`; its phase follows the
process (Running, Succeeded, Failed); DELETE kills the process group.

This proves the launcher's contract (what it asks the API for, labels, env and secrets wiring, the
command a pod runs), not scheduling, images, resources or networking: the process runs with this
machine's Python, whatever image the Job names.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .postgres import free_port

_JOBS = re.compile(r"^/apis/batch/v1/namespaces/([^/]+)/jobs(?:/([^/]+))?(/status)?$")
_PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods(?:/([^/]+))?(/log)?$")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class FakePod:
    name: str
    namespace: str
    labels: dict
    job_name: str
    container: dict
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    env: dict = field(default_factory=dict)
    deleted: bool = False

    @property
    def phase(self) -> str:
        if self.proc is None:
            return "Pending"
        code = self.proc.poll()
        return "Running" if code is None else ("Succeeded" if code == 0 else "Failed")

    def body(self) -> dict:
        state = {"running": {"startedAt": _now()}} if self.phase == "Running" else (
            {"terminated": {"exitCode": self.proc.returncode if self.proc else 0, "reason": self.phase}}
            if self.phase in ("Succeeded", "Failed") else {"waiting": {"reason": "ContainerCreating"}})  # fmt: skip
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": self.labels, "uid": self.name},
            "spec": {"containers": [self.container], "restartPolicy": "Never"},
            "status": {"phase": self.phase, "containerStatuses": [{
                "name": self.container.get("name", "dagster"), "image": self.container.get("image", ""),
                "imageID": "", "ready": self.phase == "Running", "restartCount": 0, "state": state}]},
        }  # fmt: skip


class FakeKubernetes:
    """Start with `start()`; `url` for a kubeconfig; `jobs` holds every Job body received, by name."""

    def __init__(self, work: Path, secrets: dict[str, dict[str, str]] | None = None, base_env: dict | None = None):
        self.work = work
        self.secrets = secrets or {}
        self.config_maps: dict[str, dict[str, str]] = {}
        self.base_env = base_env or {}
        self.dagster_home: Path | None = None
        self.jobs: dict[str, dict] = {}
        self.pods: dict[str, FakePod] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ server

    def start(self) -> FakeKubernetes:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body, content_type: str = "application/json"):
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str):
                url = urlsplit(self.path)
                fake.requests.append((method, url.path))
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length)) if length else None
                code, body, ctype = fake.handle(method, url.path, parse_qs(url.query), payload)
                self._send(code, body, ctype)

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

            def do_DELETE(self):
                self._route("DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
        }))  # fmt: skip
        return path

    def stop(self) -> None:
        for pod in self.pods.values():
            self._kill(pod)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ------------------------------------------------------------ API

    def handle(self, method: str, path: str, query: dict, payload):
        jobs, pods = _JOBS.match(path), _PODS.match(path)
        if jobs:
            namespace, name, _status = jobs.groups()
            if method == "POST" and name is None:
                return 201, self._create_job(namespace, payload), "application/json"
            if name not in self.jobs:
                return 404, _status_body(404, f'jobs.batch "{name}" not found', "NotFound"), "application/json"
            if method == "GET":
                return 200, self._job_body(name), "application/json"
            if method == "DELETE":
                for pod in self.pods.values():
                    if pod.job_name == name:
                        self._kill(pod)
                        pod.deleted = True
                self.jobs[name]["_deleted"] = True
                return 200, _status_body(200, "deleted", None, status="Success"), "application/json"
        if pods:
            namespace, name, log = pods.groups()
            if name is None and method == "GET":
                selector = dict(
                    part.split("=", 1) for part in (query.get("labelSelector") or [""])[0].split(",") if "=" in part
                )
                items = [p.body() for p in self.pods.values() if not p.deleted and p.namespace == namespace
                         and all(p.labels.get(k) == v for k, v in selector.items())]  # fmt: skip
                return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}, "application/json"
            pod = self.pods.get(name)
            if pod is None:
                return 404, _status_body(404, f'pods "{name}" not found', "NotFound"), "application/json"
            if log:
                return 200, pod.log_path.read_text(errors="replace") if pod.log_path else "", "text/plain"
            return 200, pod.body(), "application/json"
        return 404, _status_body(404, f"the fake does not serve {method} {path}", "NotFound"), "application/json"

    def _create_job(self, namespace: str, job: dict) -> dict:
        name = job["metadata"]["name"]
        job.setdefault("metadata", {})["namespace"] = namespace
        job["metadata"]["uid"] = str(uuid.uuid4())
        template = job["spec"]["template"]
        container = template["spec"]["containers"][0]
        pod_name = f"{name}-{uuid.uuid4().hex[:5]}"
        labels = {**(template.get("metadata", {}).get("labels") or {}), "job-name": name}
        pod = FakePod(pod_name, namespace, labels, name, container, log_path=self.work / f"{pod_name}.log")
        with self._lock:
            self.jobs[name] = job
            self.pods[pod_name] = pod
        self._kubelet(pod)
        return self._job_body(name)

    def _kubelet(self, pod: FakePod) -> None:
        """Run the container's command + args as a local process with its env and envFrom resolved."""
        c = pod.container
        env = {**self.base_env, "HOSTNAME": pod.name}
        for ref in c.get("envFrom") or c.get("env_from") or []:
            secret = (ref.get("secretRef") or ref.get("secret_ref") or {}).get("name")
            cmap = (ref.get("configMapRef") or ref.get("config_map_ref") or {}).get("name")
            if secret:
                env.update(self.secrets[secret])  # an unknown secret fails the pod, as on a cluster
            if cmap:
                env.update(self.config_maps[cmap])
        for var in c.get("env") or []:
            if "value" in var:
                env[var["name"]] = var["value"] or ""
            elif var.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
                env[var["name"]] = pod.name
        # The chart mounts the instance ConfigMap at DAGSTER_HOME; here a local folder holding the same file.
        if "DAGSTER_HOME" in env and self.dagster_home is not None:
            env["DAGSTER_HOME"] = str(self.dagster_home)
        pod.env = env
        argv = [*(c.get("command") or []), *(c.get("args") or [])]
        log = open(pod.log_path, "ab")  # noqa: SIM115
        pod.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    cwd=self.base_env.get("PWD") or None)  # fmt: skip
        log.close()

    def _job_body(self, name: str) -> dict:
        job = {k: v for k, v in self.jobs[name].items() if not k.startswith("_")}
        phases = [p.phase for p in self.pods.values() if p.job_name == name and not p.deleted]
        status = {
            "active": sum(p in ("Pending", "Running") for p in phases) or None,
            "succeeded": sum(p == "Succeeded" for p in phases) or None,
            "failed": sum(p == "Failed" for p in phases) or None,
            "startTime": _now(),
        }
        return {**job, "apiVersion": "batch/v1", "kind": "Job", "status": status}

    def _kill(self, pod: FakePod) -> None:
        if pod.proc is not None and pod.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pod.proc.pid, signal.SIGTERM)
            try:
                pod.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pod.proc.pid, signal.SIGKILL)
                pod.proc.wait(timeout=10)


def _status_body(code: int, message: str, reason: str | None, status: str = "Failure") -> dict:
    return {"apiVersion": "v1", "kind": "Status", "status": status, "message": message, "reason": reason,
            "code": code, "metadata": {}}  # fmt: skip
