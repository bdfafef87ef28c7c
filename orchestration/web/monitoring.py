"""What the monitoring page reads and plots: KPIs, review backlog ages, cost and drift over time.

Plots are matplotlib SVG (no JavaScript charting); each reads its own source and says so when
it has nothing yet, rather than drawing an empty axis.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from pathlib import Path

AGE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("under 30 min", 30), ("30 min to 2 h", 120), ("2 h to 8 h", 480), ("8 h to 24 h", 1440), ("over a day", float("inf")),
)


def age_buckets(ages: list[float]) -> list[tuple[str, int]]:
    """How many waiting items fall in each age band."""
    counts = dict.fromkeys((name for name, _ in AGE_BUCKETS), 0)
    for age in ages:
        counts[next(name for name, upper in AGE_BUCKETS if age < upper)] += 1
    return list(counts.items())


_READS: dict[tuple, list[tuple]] = {}


def _read(warehouse_path: Path | None, sql: str) -> list[tuple]:
    """Rows of `sql`, read once per version of the warehouse file (opening DuckDB is the slow part)."""
    if warehouse_path is None or not Path(warehouse_path).exists():
        return []
    import duckdb

    stat = Path(warehouse_path).stat()
    key = (str(warehouse_path), stat.st_mtime_ns, stat.st_size, sql)
    if key in _READS:
        return _READS[key]
    try:
        with duckdb.connect(str(warehouse_path), read_only=True, config={"threads": 1}) as con:
            rows = con.execute(sql).fetchall()
    except duckdb.Error:  # the table is not built yet, or a run holds the lock: nothing to show now
        return []
    if len(_READS) > 64:
        _READS.clear()
    _READS[key] = rows
    return rows


def latest_kpis(warehouse_path: Path | None) -> dict:
    """The last measured triage KPIs (the `triage_kpis` asset), or {}."""
    from connectors.schema import TRIAGE_KPIS

    rows = _read(warehouse_path, f"select measured_at, kpis from {TRIAGE_KPIS} order by measured_at desc limit 1")
    if not rows:
        return {}
    kpis = json.loads(rows[0][1])
    return {"measured_at": rows[0][0], **{k: v for k, v in kpis.items() if not isinstance(v, (dict, list))}}


def open_tickets(sor_url: str) -> list[dict] | None:
    """Open social tickets, or None when the social flow has not written any table yet."""
    import sqlalchemy as sa

    from connectors.tickets import TicketStore

    try:
        return TicketStore(sor_url).list("open")[:20]
    except sa.exc.SQLAlchemyError:
        return None


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def _figure(title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    ax.set_title(title, fontsize=10, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _empty(title: str, why: str) -> str:
    fig, ax = _figure(title)
    ax.axis("off")
    ax.text(0.0, 0.5, why, fontsize=9, color="#555")
    return _svg(fig)


def cost_plot(config, registry=None) -> str:
    """Serving cost per 1,000 inferences, per day (mean of the day's measurements)."""
    from connectors.schema import SERVING_COSTS

    rows = _read(config.warehouse_path, f"select substr(measured_at, 1, 10) as day, avg(cost_per_1k_usd) "
                                        f"from {SERVING_COSTS} group by day order by day")
    title = "Serving cost per 1,000 inferences (USD), per day"
    if not rows:
        return _empty(title, "no cost measured yet (the serving_cost asset writes it)")
    fig, ax = _figure(title)
    ax.plot([r[0] for r in rows], [r[1] for r in rows], marker="o", color="#1f5f8b")
    ax.tick_params(axis="x", labelsize=7, rotation=30)
    return _svg(fig)


def drift_plot(config, registry=None) -> str:
    """Share of drifted features measured by each candidate's drift gate, by the day it was trained."""
    title = "Drift: share of drifted features at each training, per day"
    if registry is None:
        return _empty(title, "the model registry is not reachable")
    by_day: dict[str, list[float]] = defaultdict(list)
    for v in registry.list_versions():
        share = v.gate_details.get("drift", {}).get("share_drifted") if hasattr(v, "gate_details") else None
        if share is not None:
            by_day[v.created[:10]].append(float(share))
    if not by_day:
        return _empty(title, "no drift gate measured yet")
    days = sorted(by_day)
    fig, ax = _figure(title)
    ax.bar(days, [max(by_day[d]) for d in days], color="#b5651d")
    ax.axhline(0.3, color="#999", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1)
    ax.tick_params(axis="x", labelsize=7, rotation=30)
    return _svg(fig)


def backlog_plot(config, registry=None) -> str:
    """Review items created per day, split by whether they are still open."""
    from connectors.system_of_record import ClaimsSystem

    title = "Review items created per day (open vs decided)"
    system = ClaimsSystem(config.sor_url)
    import sqlalchemy as sa

    from connectors.system_of_record import review_items_table as r

    with system._ready().connect() as con:
        rows = con.execute(sa.select(sa.func.date(r.c.created_at), r.c.status, sa.func.count())
                           .group_by(sa.func.date(r.c.created_at), r.c.status)).all()
    system.dispose()
    if not rows:
        return _empty(title, "no review items yet")
    days = sorted({str(d) for d, _, _ in rows})
    open_ = [sum(n for d, s, n in rows if str(d) == day and s in ("waiting", "claimed")) for day in days]
    done = [sum(n for d, s, n in rows if str(d) == day and s not in ("waiting", "claimed")) for day in days]
    fig, ax = _figure(title)
    ax.bar(days, done, color="#7a9a5a", label="decided or superseded")
    ax.bar(days, open_, bottom=done, color="#c0392b", label="open")
    ax.legend(fontsize=7, frameon=False)
    ax.tick_params(axis="x", labelsize=7, rotation=30)
    return _svg(fig)


PLOTS = {"cost": cost_plot, "drift": drift_plot, "backlog": backlog_plot}
