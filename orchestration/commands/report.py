"""`claimflow report roi|models`: run an analysis notebook on the current home and write it as HTML.

The notebooks' source is the jupytext percent-format `.py` under `notebooks/` (the reviewable diff);
the `.ipynb` is built from it here, its parameters cell is followed by an injected one (as papermill
does, tag `injected-parameters`), it is executed by nbclient in a kernel running this interpreter,
and nbconvert writes the HTML with the figures embedded. Nothing executed is committed.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestration.commands import CliError

NOTEBOOK_SOURCES = {"roi": "roi.py", "models": "model_exploration.py"}
KERNEL_NAME = "claimflow"
DEFAULT_TIMEOUT_S = 600  # per cell; a demo home runs each cell in seconds


class NotebookFailed(RuntimeError):
    """A cell raised: the notebook, the cell's position and the error, in one line."""


@dataclass(frozen=True)
class Rendered:
    notebook: object  # the executed nbformat NotebookNode
    html: str


def notebooks_dir() -> Path:
    from assets.project import PROJECT_ROOT

    return PROJECT_ROOT / "notebooks"


def build_notebook(name: str, parameters: Mapping[str, object] | None = None):
    """The `.ipynb` (nbformat node) of notebook `name`, built by jupytext from its percent-format source,
    with `parameters` injected after the cell tagged `parameters`."""
    import jupytext
    import nbformat

    if name not in NOTEBOOK_SOURCES:
        raise KeyError(f"no notebook {name!r} (known: {', '.join(NOTEBOOK_SOURCES)})")
    nb = jupytext.read(notebooks_dir() / NOTEBOOK_SOURCES[name])
    if parameters:
        index = next((i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
        if index is None:
            raise ValueError(f"notebook {name} has no cell tagged 'parameters'")
        unknown = set(parameters) - _declared_parameters(nb.cells[index].source)
        if unknown:
            raise ValueError(f"notebook {name} has no parameter {', '.join(sorted(unknown))}")
        source = "# Injected parameters\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
        nb.cells.insert(index + 1, cell)
    return nb


def _declared_parameters(source: str) -> set[str]:
    import ast

    return {t.id for node in ast.parse(source).body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)}


@contextlib.contextmanager
def _kernel_spec_dir() -> Iterator[Path]:
    """A kernelspec that runs this very interpreter: works in a fresh venv, whatever kernels the machine has."""
    with tempfile.TemporaryDirectory(prefix="claimflow-kernel-") as tmp:
        spec = Path(tmp) / KERNEL_NAME
        spec.mkdir()
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Claimflow (this venv)",
            "language": "python",
            "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline"},
        }))
        yield Path(tmp)


def execute(nb, *, timeout: int = DEFAULT_TIMEOUT_S, name: str = "notebook"):
    """Run every cell of `nb` in a fresh kernel (cwd: the project root); raise NotebookFailed on the first error."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from assets.project import PROJECT_ROOT

    with _kernel_spec_dir() as kernels:
        # IPC sockets: no loopback ports taken, nothing readable by other users of the machine.
        km = KernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=str(kernels / "kernel"),
                           kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
        client = NotebookClient(nb, km=km, timeout=timeout, startup_timeout=180,
                                resources={"metadata": {"path": str(PROJECT_ROOT)}})
        try:
            client.execute()
        except CellExecutionError as err:
            position = next((i for i, c in enumerate(nb.cells) if any(
                o.get("output_type") == "error" for o in c.get("outputs", []))), None)
            raise NotebookFailed(
                f"notebook {name} failed in cell {position}: {err.ename}: {err.evalue}".replace("\n", " ")
            ) from None
        finally:
            # nbclient leaves a kernel it was handed running: stop it (and its children) here.
            if km.has_kernel:
                km.shutdown_kernel(now=False)
    return nb


def to_html(nb, *, with_code: bool = False) -> str:
    """The executed notebook as one HTML file, figures embedded as PNG; code hidden unless `with_code`."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", exclude_input=not with_code, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    html, _ = exporter.from_notebook_node(nb)
    return html


def render(name: str, out: Path, parameters: Mapping[str, object], *, timeout: int = DEFAULT_TIMEOUT_S,
           with_code: bool = False) -> Rendered:
    """Build, execute and export notebook `name` to `out` (HTML)."""
    nb = execute(build_notebook(name, parameters), timeout=timeout, name=name)
    html = to_html(nb, with_code=with_code)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return Rendered(nb, html)


# ------------------------------------------------------------------ what each report needs from the home


def check_roi_inputs() -> None:
    """Raise CliError (one line) when the home has no warehouse or no triage decisions to measure."""
    from monitoring.roi import MissingWarehouse, measure_yield
    from orchestration.settings import settings

    s = settings()
    if s.sor_url is None:
        raise CliError("CLAIMFLOW_SOR_URL is not set: the ROI report reads the system of record")
    try:
        measure_yield(s.warehouse_path, s.sor_url)
    except MissingWarehouse as err:
        raise CliError(str(err)) from None


@contextlib.contextmanager
def tracking_server() -> Iterator[str]:
    """The MLflow tracking URI to read the registry from: the configured server when it answers, else a
    server started for the report over the home's local store (stopped afterwards)."""
    import os

    from assets.project import mlflow_dir
    from models.tracking import free_port, is_healthy, start_tracking_server
    from orchestration.settings import settings

    uri = settings().mlflow_tracking_uri
    if is_healthy(uri):
        yield uri
        return
    if os.environ.get("MLFLOW_TRACKING_URI") or not (mlflow_dir() / "mlflow.db").exists():
        raise CliError(f"MLflow is not reachable at {uri} and this home has no local MLflow store")
    with start_tracking_server(mlflow_dir(), port=free_port(), reuse=False) as server:
        yield server.url


def check_models_inputs() -> None:
    import duckdb

    from orchestration.settings import settings

    path = settings().warehouse_path
    if not path.exists():
        raise CliError(f"no warehouse at {path}: run the demo or the model_training job first")
    with duckdb.connect(str(path), read_only=True) as con:
        found = con.execute("select count(*) from information_schema.tables "
                            "where table_schema = 'main' and table_name = 'training_set'").fetchone()[0]
    if not found:
        raise CliError(f"the warehouse at {path} has no training_set yet: run the model_training job first")


def write_roi_report(out: Path | None = None, *, timeout: int = DEFAULT_TIMEOUT_S) -> Path:
    """Write the ROI report of the current `$CLAIMFLOW_HOME` (default `$CLAIMFLOW_HOME/reports/roi.html`)."""
    from assets.project import reports_dir
    from orchestration.settings import settings

    out = out or reports_dir() / "roi.html"
    check_roi_inputs()
    render("roi", out, {"claimflow_home": str(settings().home)}, timeout=timeout)
    return out


def write_models_report(out: Path | None = None, *, timeout: int = DEFAULT_TIMEOUT_S) -> Path:
    """Write the model exploration of the current home (default `$CLAIMFLOW_HOME/reports/models.html`)."""
    from assets.project import reports_dir
    from orchestration.settings import settings

    out = out or reports_dir() / "models.html"
    check_models_inputs()
    with tracking_server() as uri:
        render("models", out, {"claimflow_home": str(settings().home), "tracking_uri": uri}, timeout=timeout)
    return out


# ------------------------------------------------------------------ the command line


def _out(value: str) -> Path:
    out = Path(value)
    if out.suffix.lower() not in (".html", ".htm"):
        raise CliError(f"--out {value}: the report is HTML, give a .html path")
    if out.exists() and out.is_dir():
        raise CliError(f"--out {value} is a folder, give a file path")
    return out


def cmd_report(args) -> int:
    out = _out(args.out) if args.out else None
    writer = write_roi_report if args.report_command == "roi" else write_models_report
    try:
        path = writer(out, timeout=args.timeout)
    except NotebookFailed as err:
        print(f"claimflow: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def register(sub) -> None:
    """Add `report roi` and `report models` to the top-level sub-parsers."""
    from orchestration.commands import Parser

    report = sub.add_parser("report", help="analysis notebooks run on the current home, written as HTML")
    cmds = report.add_subparsers(dest="report_command", required=True, parser_class=Parser)
    for name, text in (("roi", "does Claimflow pay: measured yield, 24-month cash flows, break-even, NPV, tornado"),
                       ("models", "the risk model explored: calibration, PR per loss type, effects, bias, challenger")):
        p = cmds.add_parser(name, help=text)
        p.add_argument("--out", help="HTML file to write (default: $CLAIMFLOW_HOME/reports/"
                                     f"{'roi' if name == 'roi' else 'models'}.html)")
        p.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT_S, help="seconds allowed per notebook cell")
        p.set_defaults(func=cmd_report)
