"""Drift gate between the training set and the recent `claim_features` window.

The gate reproduces Evidently's default per-column drift tests (evidently 0.7,
`legacy/calculations/stattests/registry.py::_get_default_stattest`, reference above
1000 rows) without handing Evidently the full tables, which takes minutes and gigabytes
at a million rows:

- numeric column, more than 5 distinct values in reference and current together:
  Wasserstein distance divided by the reference standard deviation (floored at 0.001),
  drifted when >= 0.1;
- numeric column with at most 5 distinct values, and every categorical column:
  Jensen-Shannon distance (natural log) between the value shares, drifted when >= 0.1;
- missing values (NaN, +-inf) are left out of both statistics, as Evidently does;
- the dataset drifts when the share of drifted columns is >= 0.5 (`DatasetDriftMetric`).

`ReferenceProfile.fit` reads the training set once and keeps, per numeric column, the
reference CDF at ~512 edges (half at equal mass, half at equal width, sparse tails value by
value) and the exact area under it between neighbouring edges; per categorical column, the
category counts. `detect_drift` bins the current window into those edges (one
`searchsorted` and one weighted `bincount` per column) and integrates
|F_current - F_reference| bin by bin: exact below the reference minimum, above its maximum
and wherever the two CDFs do not cross inside a bin. Bins where they may cross are redone
from the current values inside them, exactly where the reference holds no value inside the
bin. What is left is a few parts per million of the statistic at 1M rows, ~1e-4 at 20k
(bench/drift.py and tests/unit/test_drift.py measure it against Evidently on the full data).

`evidently_report` renders the human-readable Evidently report on a seeded sample.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.spatial import distance

WASSERSTEIN = "wasserstein"
JENSENSHANNON = "jensenshannon"
METHOD_LABELS = {
    WASSERSTEIN: "Wasserstein distance (normed)",
    JENSENSHANNON: "Jensen-Shannon distance",
    "all_missing": "no values on one side",
}
DEFAULT_THRESHOLD = 0.1
DEFAULT_SHARE_THRESHOLD = 0.5
DEFAULT_BINS = 512
# Evidently's cut-offs: up to 5 distinct values a numeric column is compared as categories,
# the Wasserstein distance is normed by max(std, 0.001).
_MAX_DISCRETE_VALUES = 5
_MIN_NORM = 0.001
_SPARSE_BIN_VALUES = 16
_PROFILE_VERSION = 1

ColumnKind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift test: statistic, threshold and verdict, plus data-quality context."""

    column: str
    kind: ColumnKind
    method: str
    statistic: float
    threshold: float
    drifted: bool
    reference_missing_share: float = 0.0
    current_missing_share: float = 0.0
    # categorical: share of current rows in categories the training set never had;
    # numeric: share of current values outside the training set's [min, max].
    new_value_share: float = 0.0


@dataclass(frozen=True)
class DriftVerdict:
    """The gate's decision over all columns."""

    columns: list[ColumnDrift]
    share_drifted: float
    dataset_drifted: bool
    reference_rows: int
    current_rows: int
    share_threshold: float = DEFAULT_SHARE_THRESHOLD

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    def to_metadata(self) -> dict[str, Any]:
        """Flat, JSON-able summary for Dagster check metadata and MLflow params/metrics."""
        meta: dict[str, Any] = {
            "dataset_drifted": self.dataset_drifted,
            "share_drifted": self.share_drifted,
            "share_threshold": self.share_threshold,
            "drifted_count": len(self.drifted_columns),
            "columns_checked": len(self.columns),
            "drifted_columns": ", ".join(self.drifted_columns),
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
        }
        for c in self.columns:
            meta[f"{c.column}.method"] = c.method
            meta[f"{c.column}.statistic"] = round(c.statistic, 6)
            meta[f"{c.column}.threshold"] = c.threshold
            meta[f"{c.column}.drifted"] = c.drifted
            meta[f"{c.column}.current_missing_share"] = round(c.current_missing_share, 6)
            meta[f"{c.column}.new_value_share"] = round(c.new_value_share, 6)
        return meta


@dataclass(frozen=True)
class _NumericSketch:
    count: int  # finite values
    missing: int
    std: float
    edges: np.ndarray  # sorted distinct reference values, min and max included; bin j is (edges[j-1], edges[j]]
    cdf: np.ndarray  # reference count <= each edge
    area: np.ndarray  # integral of the reference CDF (as a share) over each bin, j >= 1
    below: np.ndarray  # reference count < each edge

    @property
    def hollow(self) -> np.ndarray:
        """Per bin: no reference value strictly inside, so the reference CDF is flat there."""
        return self.below[1:] == self.cdf[:-1]

    @property
    def exact_support(self) -> bool:
        """The edges hold every distinct reference value."""
        return bool(self.hollow.all())

    def to_dict(self) -> dict:
        return {"count": self.count, "missing": self.missing, "std": self.std, "edges": self.edges.tolist(),
                "cdf": self.cdf.tolist(), "area": self.area.tolist(), "below": self.below.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping) -> _NumericSketch:
        return cls(count=int(d["count"]), missing=int(d["missing"]), std=float(d["std"]),
                   edges=np.asarray(d["edges"], dtype=np.float64), cdf=np.asarray(d["cdf"], dtype=np.int64),
                   area=np.asarray(d["area"], dtype=np.float64), below=np.asarray(d["below"], dtype=np.int64))


@dataclass(frozen=True)
class _CategoricalSketch:
    values: list  # JSON scalars (str, int, float, bool), in first-count order
    counts: np.ndarray
    missing: int

    def to_dict(self) -> dict:
        return {"values": list(self.values), "counts": self.counts.tolist(), "missing": self.missing}

    @classmethod
    def from_dict(cls, d: Mapping) -> _CategoricalSketch:
        return cls(values=list(d["values"]), counts=np.asarray(d["counts"], dtype=np.int64), missing=int(d["missing"]))


@dataclass(frozen=True)
class ReferenceProfile:
    """What the drift gate keeps of the training set, stored beside the model (about 350 KB of JSON
    for bench/drift.py's 20 columns at 1M rows; a column's size follows its distinct values, not its rows)."""

    numeric: dict[str, _NumericSketch]
    categorical: dict[str, _CategoricalSketch]
    reference_rows: int
    bins: int = DEFAULT_BINS

    @classmethod
    def fit(cls, reference: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str],
            bins: int = DEFAULT_BINS) -> ReferenceProfile:
        """Profile the training set once; raises ValueError on missing or unusable columns.

        Evidently switches to p-value tests (K-S, chi-square, z) for references of 1000 rows or
        fewer; the gate keeps the distance tests at every size, so agreement holds above that.
        """
        if bins < 2 * _MAX_DISCRETE_VALUES:
            raise ValueError(f"bins must be at least {2 * _MAX_DISCRETE_VALUES}, got {bins}")
        _require_columns(reference, [*numeric, *categorical], "reference")
        if len(reference) == 0:
            raise ValueError("the reference data set is empty: cannot build a drift profile")
        num = {c: _fit_numeric(reference[c], c, bins) for c in numeric}
        cat = {c: _fit_categorical(reference[c], c) for c in categorical}
        return cls(numeric=num, categorical=cat, reference_rows=len(reference), bins=bins)

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def to_dict(self) -> dict:
        """JSON-able form (floats round-trip exactly through `json`)."""
        return {"version": _PROFILE_VERSION, "reference_rows": self.reference_rows, "bins": self.bins,
                "numeric": {c: s.to_dict() for c, s in self.numeric.items()},
                "categorical": {c: s.to_dict() for c, s in self.categorical.items()}}

    @classmethod
    def from_dict(cls, d: Mapping) -> ReferenceProfile:
        if d.get("version") != _PROFILE_VERSION:
            raise ValueError(f"unsupported drift profile version {d.get('version')!r}, expected {_PROFILE_VERSION}")
        return cls(numeric={c: _NumericSketch.from_dict(s) for c, s in d["numeric"].items()},
                   categorical={c: _CategoricalSketch.from_dict(s) for c, s in d["categorical"].items()},
                   reference_rows=int(d["reference_rows"]), bins=int(d["bins"]))


def detect_drift(profile: ReferenceProfile, current: pd.DataFrame, *, threshold: float = DEFAULT_THRESHOLD,
                 share_threshold: float = DEFAULT_SHARE_THRESHOLD) -> DriftVerdict:
    """Test every profiled column of the current window against the reference profile.

    A column with no values on one side only counts as drifted (Evidently refuses to compute
    it; for a gate, a feature that stopped, or started, arriving is a change), and as stable
    when it is empty on both sides.
    """
    if len(current) == 0:
        raise ValueError("the current window has no rows: drift cannot be assessed on an empty window "
                         "(check the window bounds or wait for claims to arrive)")
    _require_columns(current, profile.columns, "current")
    results = [_numeric_drift(name, s, current[name], threshold) for name, s in profile.numeric.items()]
    results += [_categorical_drift(name, s, current[name], threshold) for name, s in profile.categorical.items()]
    share = sum(r.drifted for r in results) / len(results) if results else 0.0
    return DriftVerdict(columns=results, share_drifted=share, dataset_drifted=bool(results) and share >= share_threshold,
                        reference_rows=profile.reference_rows, current_rows=len(current),
                        share_threshold=share_threshold)


def _require_columns(df: pd.DataFrame, columns: Sequence[str], side: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"the {side} data lacks drift-checked column(s): {', '.join(missing)}")


def _finite(series: pd.Series, name: str, side: str) -> tuple[np.ndarray, int]:
    """Finite float64 values and the count of missing ones (NaN, None, +-inf)."""
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        if series.isna().all():  # all-None columns arrive as object dtype
            return np.zeros(0, dtype=np.float64), len(series)
        raise ValueError(f"numeric column '{name}' in the {side} data has dtype {series.dtype}, expected numbers")
    x = series.to_numpy(dtype=np.float64, na_value=np.nan)
    ok = np.isfinite(x)
    if ok.all():
        return x, 0
    return x[ok], int(len(x) - ok.sum())


def _fit_numeric(series: pd.Series, name: str, bins: int) -> _NumericSketch:
    x, missing = _finite(series, name, "reference")
    if len(x) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _NumericSketch(count=0, missing=missing, std=0.0, edges=empty.astype(np.float64), cdf=empty,
                              area=empty.astype(np.float64), below=empty)
    xs = np.sort(x)
    n = len(xs)
    distinct = np.concatenate(([True], xs[1:] != xs[:-1]))
    n_distinct = int(distinct.sum())
    values = xs[distinct]
    if n_distinct <= bins + 1:
        edges = values
    else:
        # Half the edges at equal reference mass, half at equal width: the second half keeps the
        # sparse tails of skewed columns (claim amounts) in narrow bins.
        by_mass = np.linspace(0, n - 1, bins // 2 + 1).round().astype(np.int64)
        by_width = np.searchsorted(xs, np.linspace(xs[0], xs[-1], bins - bins // 2 + 1), side="left")
        base = np.unique(xs[np.concatenate((by_mass, np.minimum(by_width, n - 1)))])
        # Bins holding only a few distinct values (the tails) are kept value by value: that is where
        # the noisy CDFs cross inside a bin, and a flat reference CDF lets detect_drift resolve it.
        in_bin = np.searchsorted(base, values, side="left")
        sparse = np.bincount(in_bin, minlength=len(base))[in_bin] <= _SPARSE_BIN_VALUES
        edges = np.unique(np.concatenate((base, values[sparse])))
    cdf = np.searchsorted(xs, edges, side="right").astype(np.int64)
    below = np.searchsorted(xs, edges, side="left").astype(np.int64)
    # Area under the reference CDF over (e[j-1], e[j]]: width * F(e[j-1]) + sum(e[j] - x) / n
    # for x in the bin; the sum is taken per value so large magnitudes do not cancel.
    idx = np.searchsorted(edges, xs, side="left")
    inside = np.bincount(idx, weights=edges[idx] - xs, minlength=len(edges))[1:]
    area = np.diff(edges) * (cdf[:-1] / n) + inside / n
    return _NumericSketch(count=n, missing=missing, std=float(np.std(x)), edges=edges, cdf=cdf, area=area,
                          below=below)


def _fit_categorical(series: pd.Series, name: str) -> _CategoricalSketch:
    vc = series.value_counts(dropna=True, sort=False)
    vc = vc[vc > 0]
    return _CategoricalSketch(values=[_json_scalar(v) for v in vc.index], counts=vc.to_numpy(dtype=np.int64),
                              missing=int(series.isna().sum()))


def _json_scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _one_side_empty(name: str, kind: ColumnKind, threshold: float, ref_missing: float,
                    cur_missing: float) -> ColumnDrift:
    """A feature with no values in training or in the window: drifted unless it is empty on both sides."""
    changed = ref_missing < 1.0 or cur_missing < 1.0
    return ColumnDrift(column=name, kind=kind, method="all_missing", statistic=float(changed), threshold=threshold,
                       drifted=changed, reference_missing_share=ref_missing, current_missing_share=cur_missing)


def _numeric_drift(name: str, s: _NumericSketch, series: pd.Series, threshold: float) -> ColumnDrift:
    ref_missing = s.missing / (s.count + s.missing) if s.count + s.missing else 1.0
    x, missing = _finite(series, name, "current")
    if len(x) == 0 or s.count == 0:
        return _one_side_empty(name, "numeric", threshold, ref_missing, missing / len(series))
    m = len(x)
    edges = s.edges
    k = len(edges)
    idx = np.searchsorted(edges, x, side="left")  # 0: x <= min, k: x > max, else x in (e[idx-1], e[idx]]
    at_edge = np.append(edges, edges[-1])[idx]
    counts = np.bincount(idx, minlength=k + 1)
    new_share = (counts[k] + int(np.count_nonzero(x < edges[0]))) / m

    if s.exact_support and k <= _MAX_DISCRETE_VALUES:
        matched = at_edge == x
        new_values, new_counts = np.unique(x[~matched], return_counts=True)
        if k + len(new_values) <= _MAX_DISCRETE_VALUES:
            ref_counts = np.concatenate((np.diff(s.cdf, prepend=0), np.zeros(len(new_values), dtype=np.int64)))
            cur_counts = np.concatenate((np.bincount(idx[matched], minlength=k)[:k], new_counts))
            stat = float(distance.jensenshannon(ref_counts, cur_counts))
            return ColumnDrift(column=name, kind="numeric", method=JENSENSHANNON, statistic=stat, threshold=threshold,
                               drifted=stat >= threshold, reference_missing_share=ref_missing,
                               current_missing_share=missing / len(series), new_value_share=new_share)

    # s_j = sum of (e[j] - x) per bin; s_0 is the area below the reference minimum,
    # -s_k the area above the reference maximum, both exact.
    sums = np.bincount(idx, weights=at_edge - x, minlength=k + 1)
    f_cur = np.cumsum(counts[:k]) / m
    cur_area = np.diff(edges) * f_cur[:-1] + sums[1:k] / m
    per_bin = np.abs(cur_area - s.area)
    _resolve_crossings(per_bin, s, x, idx, at_edge, f_cur, m)
    w = (per_bin.sum() + sums[0] / m - sums[k] / m) / max(s.std, _MIN_NORM)
    return ColumnDrift(column=name, kind="numeric", method=WASSERSTEIN, statistic=float(w), threshold=threshold,
                       drifted=bool(w >= threshold), reference_missing_share=ref_missing,
                       current_missing_share=missing / len(series), new_value_share=new_share)


def _resolve_crossings(per_bin: np.ndarray, s: _NumericSketch, x: np.ndarray, idx: np.ndarray,
                       at_edge: np.ndarray, f_cur: np.ndarray, m: int) -> None:
    """Recompute the bins where the two CDFs may cross, from the current values inside them.

    Elsewhere |signed area| is exact. Inside a crossing bin the current CDF is known exactly
    (its values are sorted, a small share of the rows), and the reference CDF is taken as
    linear from F_r(a) to F_r(b-): exact for a hollow bin (flat), off by the reference's
    wiggle inside one of a few hundred quantile bins otherwise.
    """
    edges, n = s.edges, s.count
    ra, rb = s.cdf[:-1] / n, s.below[1:] / n  # F_r(a), F_r(b-) per bin
    crossing = (f_cur[:-1] < rb) & (f_cur[1:] > ra) & (s.hollow | (np.diff(f_cur) * m <= _SPARSE_BIN_VALUES))
    if not crossing.any():
        return
    k = len(edges)
    flag = np.zeros(k + 1, dtype=bool)
    flag[1:k] = crossing
    y = np.sort(x[flag[idx] & (x < at_edge)])  # current values strictly inside the crossing bins
    bins = np.flatnonzero(crossing) + 1
    pos = np.searchsorted(bins, np.searchsorted(edges, y, side="left"))  # y's position in `bins`
    start = np.searchsorted(pos, np.arange(len(bins)), side="left")
    has_values = start < np.searchsorted(pos, np.arange(len(bins)), side="right")
    # pieces of constant current CDF: [a, first value) per bin, then [value, next value or b)
    first_end = edges[bins].copy()
    first_end[has_values] = y[start[has_values]]
    same_next = np.append(pos[1:] == pos[:-1], False)
    piece_bin = np.concatenate((np.arange(len(bins)), pos))
    lo = np.concatenate((edges[bins - 1], y))
    hi = np.concatenate((first_end, np.where(same_next, np.append(y[1:], 0.0), edges[bins[pos]])))
    level = np.concatenate((f_cur[bins - 1], f_cur[bins[pos] - 1] + (np.arange(len(y)) - start[pos] + 1) / m))
    a, b = edges[bins - 1][piece_bin], edges[bins][piece_bin]
    slope = (rb - ra)[bins - 1][piece_bin] / (b - a)
    d0 = level - (ra[bins - 1][piece_bin] + slope * (lo - a))
    d1 = level - (ra[bins - 1][piece_bin] + slope * (hi - a))
    same_sign = d0 * d1 >= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_abs = np.where(same_sign, np.abs(d0 + d1) / 2, (d0**2 + d1**2) / (2 * np.abs(d0 - d1)))
    per_bin[bins - 1] = np.bincount(piece_bin, weights=mean_abs * (hi - lo), minlength=len(bins))


def _categorical_drift(name: str, s: _CategoricalSketch, series: pd.Series, threshold: float) -> ColumnDrift:
    ref_total = int(s.counts.sum())
    ref_missing = s.missing / (ref_total + s.missing) if ref_total + s.missing else 1.0
    vc = series.value_counts(dropna=True, sort=False)
    vc = vc[vc > 0]
    if len(vc) == 0 or ref_total == 0:
        return _one_side_empty(name, "categorical", threshold, ref_missing, 1 - int(vc.sum()) / len(series))
    position = {v: i for i, v in enumerate(s.values)}
    ref = list(s.counts)
    cur = [0] * len(ref)
    unseen = 0
    for value, count in zip(vc.index, vc.to_numpy()):
        i = position.get(value)
        if i is None:
            ref.append(0)
            cur.append(int(count))
            unseen += int(count)
        else:
            cur[i] += int(count)
    stat = float(distance.jensenshannon(np.asarray(ref, dtype=np.float64), np.asarray(cur, dtype=np.float64)))
    total = int(vc.sum())
    return ColumnDrift(column=name, kind="categorical", method=JENSENSHANNON, statistic=stat, threshold=threshold,
                       drifted=stat >= threshold, reference_missing_share=ref_missing,
                       current_missing_share=(len(series) - total) / len(series), new_value_share=unseen / total)


def evidently_report(reference: pd.DataFrame, current: pd.DataFrame, out_html: Path, *, numeric: Sequence[str],
                     categorical: Sequence[str], sample_rows: int = 50_000, seed: int = 0,
                     verdict: DriftVerdict | None = None) -> Path:
    """Write Evidently's data drift report, on a seeded sample of both sides, to `out_html`.

    The page opens with a plain-language header: what was compared, the sample sizes and,
    when `verdict` is given, the gate's decision on the full data, which is the one that counts.
    """
    columns = [*numeric, *categorical]
    if len(current) == 0:
        raise ValueError("the current window has no rows: there is nothing to report on")
    ref_sample = _sample(reference, columns, sample_rows, seed)
    cur_sample = _sample(current, columns, sample_rows, seed + 1)
    snapshot = _run_evidently(ref_sample, cur_sample, numeric, categorical)
    page = snapshot.get_html_str(as_iframe=False)
    title = "Claim feature drift: training set versus recent claims"
    header = _report_header(title, len(ref_sample), len(reference), len(cur_sample), len(current), seed, verdict)
    page = page.replace("<head>", f"<head>\n<title>{html.escape(title)}</title>", 1)
    page = page.replace("<body>", f"<body>\n{header}", 1)
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(page, encoding="utf-8")
    return out_html


def evidently_verdict(reference: pd.DataFrame, current: pd.DataFrame, *, numeric: Sequence[str],
                      categorical: Sequence[str], share_threshold: float = DEFAULT_SHARE_THRESHOLD) -> DriftVerdict:
    """Evidently's own per-column decisions (`DataDriftPreset`, default tests) on the data as given.

    The yardstick `detect_drift` is measured against (tests, bench); too slow for the gate at 1M rows.
    """
    if len(current) == 0:
        raise ValueError("the current window has no rows: drift cannot be assessed on an empty window")
    columns = [*numeric, *categorical]
    _require_columns(reference, columns, "reference")
    _require_columns(current, columns, "current")
    result = _run_evidently(reference[columns], current[columns], numeric, categorical).dict()
    scores = {m["config"]["column"]: m for m in result["metrics"] if m["config"]["type"].endswith(":ValueDrift")}
    status = {t["metric_config"]["params"]["column"]: t["status"] for t in result["tests"] if t["id"] == "drift"}
    by_label = {label: method for method, label in METHOD_LABELS.items()}
    out = []
    for c in columns:
        cfg = scores[c]["config"]
        out.append(ColumnDrift(column=c, kind="numeric" if c in numeric else "categorical",
                               method=by_label.get(cfg["method"], cfg["method"]), statistic=float(scores[c]["value"]),
                               threshold=float(cfg["threshold"]), drifted=status[c] == "FAIL"))
    share = sum(c.drifted for c in out) / len(out)
    return DriftVerdict(columns=out, share_drifted=share, dataset_drifted=share >= share_threshold,
                        reference_rows=len(reference), current_rows=len(current), share_threshold=share_threshold)


def _run_evidently(reference: pd.DataFrame, current: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]):
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=list(numeric), categorical_columns=list(categorical))
    return Report([DataDriftPreset(columns=[*numeric, *categorical])], include_tests=True).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )


def _sample(df: pd.DataFrame, columns: list[str], rows: int, seed: int) -> pd.DataFrame:
    _require_columns(df, columns, "input")
    if len(df) <= rows:
        return df[columns].reset_index(drop=True)
    return df[columns].sample(n=rows, random_state=seed).reset_index(drop=True)


def _report_header(title: str, ref_n: int, ref_total: int, cur_n: int, cur_total: int, seed: int,
                   verdict: DriftVerdict | None) -> str:
    def rows(n: int, total: int) -> str:
        return f"all {total:,} rows" if n == total else f"a random sample of {n:,} of {total:,} rows"

    intro = (
        "<p>This report compares the claims the risk model was trained on (the <b>reference</b>) with the "
        "claims received recently (the <b>current</b> window), one feature at a time. When recent claims no "
        "longer look like the training data, the model's scores deserve less trust, and a new model should "
        "not be promoted without a closer look.</p>"
    )
    data = (
        f"<p><b>Data shown below:</b> reference: {rows(ref_n, ref_total)}; current: {rows(cur_n, cur_total)} "
        f"(sampling seed {seed}). The charts, scores and tests further down are computed on these samples by "
        "Evidently; each feature's row opens onto its two distributions.</p>"
    )
    how_to_read = (
        "<p><b>How to read a score.</b> For a number (age, amount, delay...), the score is how far, on "
        "average, each value would have to move to turn the training distribution into the recent one, in "
        "training standard deviations: 0.1 means about a tenth of a standard deviation. For a category (area, "
        "brand, loss type) or a count with at most five values, it is the Jensen-Shannon distance between the "
        "shares of each value: 0 for identical shares, 0.83 for no overlap at all. A feature counts as "
        "<b>drifted</b> at a score of 0.1 or more; the data set counts as drifted when at least half of the "
        "features drift. Missing values are left out of the scores and reported separately.</p>"
    )
    parts = [f"<h1>{html.escape(title)}</h1>", intro, data, how_to_read]
    if verdict is not None:
        decision = "DRIFT DETECTED" if verdict.dataset_drifted else "no data set drift"
        table_rows = "".join(
            f"<tr><td>{html.escape(c.column)}</td><td>{html.escape(METHOD_LABELS.get(c.method, c.method))}</td>"
            f"<td style='text-align:right'>{c.statistic:.3f}</td><td>{'drifted' if c.drifted else 'stable'}</td>"
            f"<td style='text-align:right'>{c.reference_missing_share:.1%}</td>"
            f"<td style='text-align:right'>{c.current_missing_share:.1%}</td>"
            f"<td style='text-align:right'>{c.new_value_share:.1%}</td></tr>"
            for c in verdict.columns
        )
        parts.append(
            f"<h2>Gate decision on the full data: {decision}</h2>"
            f"<p>{len(verdict.drifted_columns)} of {len(verdict.columns)} features drifted "
            f"({verdict.share_drifted:.0%}; the gate fails at {verdict.share_threshold:.0%}), computed on all "
            f"{verdict.reference_rows:,} reference and {verdict.current_rows:,} current rows. This decision, "
            "not the samples below, is what the deployment gate used; a feature close to the 0.1 line can "
            "read differently on a sample.</p>"
            "<table style='border-collapse:collapse' border='1' cellpadding='4'><tr><th>feature</th>"
            "<th>method</th><th>score</th><th>verdict</th><th>missing in training</th><th>missing now</th>"
            f"<th>new values now</th></tr>{table_rows}</table>"
            "<p>'New values now' is the share of recent claims with a category never seen in training, or a "
            "number outside the training range.</p>"
        )
    return f"<header style='font-family:sans-serif;max-width:70em;margin:1em 2em'>{''.join(parts)}</header>"
