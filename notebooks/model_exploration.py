# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The risk model, explored
#
# What a risk officer reads before trusting `claims_risk` with today's claims: the data it learned
# from, how well its scores are calibrated, how well it finds high-risk claims of each loss type, how
# the claimed amount and the policy's tenure move its score, whether its scores differ across areas
# and age bands, and how the latest challenger differs from the champion.
#
# Everything is computed here from the warehouse's `main.training_set` (the dbt model the training
# job reads) and the ONNX models the MLflow registry holds under the aliases `champion` and
# `challenger`, scored in process with onnxruntime exactly as Triton serves them. The holdout is the
# training set's latest 20 % by incident date, which no model saw in training.
# `claimflow report models --out models.html` runs this notebook on the current home.

# %% tags=["parameters"]
claimflow_home = ""  # empty: $CLAIMFLOW_HOME (default ./.claimflow)
tracking_uri = ""  # empty: $MLFLOW_TRACKING_URI, else the local server on $CLAIMFLOW_MLFLOW_PORT
review_threshold = 0.5  # the score from which a claim goes to a specialist (TriageConfig)
max_rows_for_dependence = 600  # holdout claims the partial-dependence curves average over

# %%
# %matplotlib inline
import os
from pathlib import Path

import duckdb
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from mlflow import MlflowClient
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, precision_recall_curve

from models.features import LABEL
from models.lineage import download_onnx
from models.onnx_export import onnx_predict
from models.registry import CHALLENGER, CHAMPION, MODEL_NAME
from models.risk import metrics_from_scores
from models.tracking import is_healthy

if claimflow_home:
    os.environ["CLAIMFLOW_HOME"] = str(Path(claimflow_home).resolve())
from orchestration.settings import settings

HOME = settings().home
URI = tracking_uri or settings().mlflow_tracking_uri
if not is_healthy(URI):
    raise RuntimeError(f"MLflow is not reachable at {URI}: start it (make ui) or pass tracking_uri")
plt.rcParams.update({"figure.figsize": (9, 4.2), "figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3,
                     "axes.spines.top": False, "axes.spines.right": False, "font.size": 10})


def source_note(fig, text):
    """Every figure says where its numbers come from (below the axes, once the layout keeps labels inside)."""
    fig.tight_layout()
    fig.text(0.01, -0.01, f"Source: {text}", fontsize=8, color="dimgray", ha="left", va="top")


with duckdb.connect(str(settings().warehouse_path), read_only=True) as con:
    training = con.execute("select * from main.training_set").df()
    live = con.execute(
        """select f.*, s.score, s.model_version from main.claim_features f
           join raw.risk_scores s using (claim_number)"""
    ).df()
training["incident_date"] = pd.to_datetime(training["incident_date"])
holdout = training[training["split"] == "holdout"].reset_index(drop=True)
display(Markdown(f"Home `{HOME}`, MLflow `{URI}`: training set of {len(training):,} labelled claims, "
                 f"holdout {len(holdout):,}; {len(live):,} live claims scored."))

# %% [markdown]
# ## 1. The training set
#
# Closed claims with their outcome: `high_risk` is true when the claim needed a specialist or a fraud
# review (reviewers' overrides join as labels). The figure shows claims per month by incident date,
# the split the gates use (train before, holdout after), and the share of high-risk claims per month.

# %%
by_month = (training.assign(month=training["incident_date"].dt.to_period("M").dt.to_timestamp())
            .groupby(["month", "split"]).agg(claims=(LABEL, "size"), high_risk=(LABEL, "mean")).reset_index())
fig, ax = plt.subplots(figsize=(10, 4))
for split, color in (("train", "#4C72B0"), ("holdout", "#DD8452")):
    part = by_month[by_month["split"] == split]
    ax.bar(part["month"], part["claims"], width=25, color=color, label=f"{split} claims")
ax.set(title="Training set: labelled claims per month and high-risk share", xlabel="incident month",
       ylabel="claims")
ax2 = ax.twinx()
rate = training.groupby(training["incident_date"].dt.to_period("M").dt.to_timestamp())[LABEL].mean()
ax2.plot(rate.index, rate.values * 100, color="black", lw=1.2, label="high-risk share")
ax2.set(ylabel="high-risk share, %", ylim=(0, max(rate.max() * 100 * 1.3, 1)))
ax2.grid(False)
lines = ax.get_legend_handles_labels()
lines2 = ax2.get_legend_handles_labels()
ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
source_note(fig, "main.training_set (dbt), warehouse of this home")
plt.show()

# %%
summary = training.groupby("split").agg(claims=(LABEL, "size"), high_risk_share=(LABEL, "mean"),
                                        first_incident=("incident_date", "min"),
                                        last_incident=("incident_date", "max"))
per_loss = training.groupby("loss_type")[LABEL].agg(claims="size", high_risk_share="mean").sort_values("claims",
                                                                                                       ascending=False)
display(summary.round(3))
per_loss.round(3)

# %% [markdown]
# ## 2. The champion and the challenger
#
# The registry's aliases say which version serves (`champion`) and which was trained last
# (`challenger`). Both are scored here on the same holdout.

# %%
client = MlflowClient(tracking_uri=URI, registry_uri=URI)
aliases = client.get_registered_model(MODEL_NAME).aliases
champion_version = int(aliases[CHAMPION]) if CHAMPION in aliases else None
challenger_version = int(aliases[CHALLENGER]) if CHALLENGER in aliases else None
if champion_version is None:
    raise RuntimeError(f"no {CHAMPION} alias on {MODEL_NAME}: train, approve and promote a model first")
versions = {"champion": champion_version}
if challenger_version is not None and challenger_version != champion_version:
    versions["challenger"] = challenger_version
onnx = {role: download_onnx(URI, MODEL_NAME, v) for role, v in versions.items()}
scores = {role: onnx_predict(model, holdout) for role, model in onnx.items()}
y = holdout[LABEL].astype(int).to_numpy()
rows = []
for role, v in versions.items():
    mv = client.get_model_version(MODEL_NAME, str(v))
    metrics = metrics_from_scores(y, scores[role], review_threshold=review_threshold)
    gates = {k.removeprefix("gate."): val for k, val in mv.tags.items() if k.startswith("gate.") and k.count(".") == 1}
    rows.append({"role": role, "version": v, "trained_by": mv.tags.get("trained_by"),
                 **{k: round(metrics[k], 4) for k in ("roc_auc", "pr_auc", "brier", "ece", "review_rate",
                                                       "recall_at_review_threshold")},
                 "gates": ", ".join(f"{g} {s}" for g, s in sorted(gates.items()))})
versions_table = pd.DataFrame(rows).set_index("role")
display(versions_table)

# %% [markdown]
# ## 3. Calibration of the champion
#
# A score is used as a probability (the review and fraud thresholds are probabilities), so a claim
# scored 0.3 should turn out high-risk about 30 % of the time. The reliability curve plots, per score
# bin, the observed high-risk share against the mean score; the diagonal is perfect calibration. The
# lower panel shows how many holdout claims fall in each bin.

# %%
champ = scores["champion"]
observed, predicted = calibration_curve(y, champ, n_bins=10, strategy="quantile")
ece = metrics_from_scores(y, champ, review_threshold=review_threshold)["ece"]
fig, (ax, axh) = plt.subplots(2, 1, figsize=(7, 6.5), height_ratios=[3, 1], sharex=True)
ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1, label="perfect calibration")
ax.plot(predicted, observed, marker="o", color="#4C72B0", label=f"champion v{champion_version} (ECE {ece:.3f})")
ax.set(title="Calibration of the champion on the holdout", ylabel="observed high-risk share")
ax.legend(loc="upper left")
axh.hist(champ, bins=np.linspace(0, 1, 41), color="#4C72B0", alpha=0.8)
axh.set(xlabel="risk score (predicted probability of high risk)", ylabel="claims")
source_note(fig, f"holdout of main.training_set ({len(y):,} claims), ONNX model from the MLflow registry")
plt.show()

# %% [markdown]
# ## 4. Precision and recall per loss type
#
# For each loss type, the precision-recall curve of the champion's score on the holdout claims of that
# type: how many of the claims flagged are high-risk (precision) against how many high-risk claims are
# flagged (recall), as the threshold moves. The dot marks the review threshold. Average precision (AP)
# is in the legend; loss types with fewer than 5 high-risk holdout claims are listed but not drawn.

# %%
fig, ax = plt.subplots(figsize=(9, 5.5))
skipped = []
for loss_type, part in holdout.groupby("loss_type"):
    yt, st = part[LABEL].astype(int).to_numpy(), champ[part.index]
    if yt.sum() < 5 or yt.sum() == len(yt):
        skipped.append(f"{loss_type} ({int(yt.sum())} of {len(yt)} high-risk)")
        continue
    precision, recall, thresholds = precision_recall_curve(yt, st)
    line, = ax.plot(recall, precision, lw=1.4,
                    label=f"{loss_type}: AP {average_precision_score(yt, st):.2f}, n={len(yt)}")
    flagged = st >= review_threshold
    if flagged.any():
        ax.plot((yt[flagged] == 1).sum() / yt.sum(), (yt[flagged] == 1).mean(), "o", color=line.get_color())
ax.set(title=f"Precision-recall per loss type, champion v{champion_version} (dot: threshold {review_threshold})",
       xlabel="recall (share of high-risk claims flagged)", ylabel="precision (share of flagged that are high-risk)",
       xlim=(0, 1), ylim=(0, 1.02))
ax.legend(fontsize=8, loc="upper right")
source_note(fig, "holdout of main.training_set, champion from the MLflow registry")
plt.show()
print("not drawn (too few high-risk claims in the holdout): " + (", ".join(skipped) or "none"))

# %% [markdown]
# ## 5. Feature effects: claimed amount and tenure
#
# Partial dependence: the champion's average score over holdout claims when one feature is set to a
# value for every claim and everything else is left as it was. The left panel shows the effect of the
# claimed amount (log scale, EUR), the right panel of the policy's tenure at the incident (days). The
# thin lines are individual claims (ICE curves), the thick line their mean. The behaviour gate already
# requires that a higher amount never lowers the risk; this is the picture behind it.

# %%
sample = holdout.sample(min(len(holdout), int(max_rows_for_dependence)), random_state=0).reset_index(drop=True)


def dependence(model: bytes, column: str, grid: np.ndarray) -> np.ndarray:
    """Scores of `sample` with `column` set to each grid value: shape (len(grid), len(sample))."""
    stacked = pd.concat([sample.assign(**{column: value}) for value in grid], ignore_index=True)
    return onnx_predict(model, stacked).reshape(len(grid), len(sample))


grids = {
    "estimated_amount_eur": np.geomspace(max(sample["estimated_amount_eur"].quantile(0.02), 50),
                                         sample["estimated_amount_eur"].quantile(0.98), 25),
    "tenure_days": np.linspace(sample["tenure_days"].quantile(0.02), sample["tenure_days"].quantile(0.98), 25),
}
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
for ax, (column, grid), unit in zip(axes, grids.items(), ("claimed amount, EUR (log scale)", "tenure, days")):
    ice = dependence(onnx["champion"], column, grid)
    ax.plot(grid, ice[:, :60], color="#4C72B0", alpha=0.08, lw=0.8)
    ax.plot(grid, ice.mean(axis=1), color="#4C72B0", lw=2.5, label="champion, mean")
    if "challenger" in onnx:
        ax.plot(grid, dependence(onnx["challenger"], column, grid).mean(axis=1), color="#DD8452", lw=2,
                ls="--", label="challenger, mean")
    ax.set(xlabel=unit, title=f"Partial dependence on {column}")
    if column == "estimated_amount_eur":
        ax.set_xscale("log")
axes[0].set_ylabel("risk score")
axes[0].legend(fontsize=8)
source_note(fig, f"{len(sample)} holdout claims of main.training_set, ONNX models from the MLflow registry")
plt.show()

# %% [markdown]
# ## 6. Scores by area and age band: the bias view
#
# A risk officer checks that the score treats groups of customers alike where their outcomes are
# alike. For each area of the policy register (freMTPL's density band, A rural to F urban) and each
# band of the driver's age, the boxes show the distribution of the champion's holdout scores; the
# black diamond is the group's observed high-risk share. A box far above its diamond means the
# model over-scores that group; the table below gives the numbers, with group sizes.

# %%
bands = pd.cut(holdout["driver_age"], bins=[17, 25, 35, 50, 65, 120], labels=["18-25", "26-35", "36-50", "51-65", "66+"])
view = holdout.assign(score=champ, age_band=bands)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
for ax, group, title in zip(axes, ("area", "age_band"), ("area (density band)", "driver's age band")):
    groups = [g for g, part in view.groupby(group, observed=True) if len(part)]
    data = [view.loc[view[group] == g, "score"] for g in groups]
    ax.boxplot(data, tick_labels=[str(g) for g in groups], showfliers=False)
    observed_rate = [view.loc[view[group] == g, LABEL].mean() for g in groups]
    ax.plot(range(1, len(groups) + 1), observed_rate, "D", color="black", label="observed high-risk share")
    ax.set(title=f"Champion scores by {title}", xlabel=title)
axes[0].set_ylabel("risk score")
axes[0].legend(fontsize=8)
source_note(fig, "holdout of main.training_set, champion from the MLflow registry")
plt.show()
bias = pd.concat(
    {group: view.groupby(group, observed=True).agg(claims=("score", "size"), mean_score=("score", "mean"),
                                                   observed_high_risk=(LABEL, "mean"),
                                                   flagged_share=("score", lambda s: (s >= review_threshold).mean()))
     for group in ("area", "age_band")}
)
bias.round(3)

# %% [markdown]
# The same view on live claims: the scores the serving tier gave to the claims in this home (no
# outcome is known yet, so only the distribution), by area.

# %%
if len(live):
    fig, ax = plt.subplots(figsize=(9, 3.5))
    groups = sorted(live["area"].dropna().unique())
    ax.boxplot([live.loc[live["area"] == g, "score"] for g in groups], tick_labels=groups, showfliers=True)
    ax.set(title=f"Live claims' risk scores by area ({len(live)} claims scored)", xlabel="area (density band)",
           ylabel="risk score")
    source_note(fig, "raw.risk_scores joined with main.claim_features, this home")
    plt.show()
else:
    print("no live claim has been scored yet in this home")

# %% [markdown]
# ## 7. How the challenger differs from the champion
#
# The table in section 2 compares their holdout metrics. The scatter plots each holdout claim's
# challenger score against its champion score; claims off the diagonal are scored differently, and
# those crossing the review threshold (dashed lines) would change queue if the challenger were
# promoted. The parameter table lists what was trained differently.

# %%
if "challenger" in scores:
    chal = scores["challenger"]
    flips_up = int(((champ < review_threshold) & (chal >= review_threshold)).sum())
    flips_down = int(((champ >= review_threshold) & (chal < review_threshold)).sum())
    fig, ax = plt.subplots(figsize=(6.5, 6))
    ax.scatter(champ, chal, s=6, alpha=0.35, c=np.where(y == 1, "#C44E52", "#4C72B0"))
    ax.plot([0, 1], [0, 1], color="gray", lw=1)
    ax.axvline(review_threshold, color="black", ls="--", lw=0.8)
    ax.axhline(review_threshold, color="black", ls="--", lw=0.8)
    ax.set(title=f"Challenger v{versions['challenger']} vs champion v{champion_version} on the holdout",
           xlabel="champion score", ylabel="challenger score", xlim=(0, 1), ylim=(0, 1))
    ax.text(0.02, 0.97, f"{flips_up} claims would newly go to review\n{flips_down} would leave review\n"
            "red: high-risk, blue: not", transform=ax.transAxes, va="top", fontsize=8)
    source_note(fig, "holdout of main.training_set, both versions from the MLflow registry")
    plt.show()
    run_params = {role: client.get_run(client.get_model_version(MODEL_NAME, str(v)).run_id).data.params
                  for role, v in versions.items()}
    diff = pd.DataFrame(run_params)
    display(diff[diff["champion"] != diff["challenger"]])
    print(f"mean absolute score difference: {np.abs(chal - champ).mean():.4f}; "
          f"review decisions changed: {flips_up + flips_down} of {len(y)} holdout claims")
else:
    print(f"no challenger apart from the champion (version {champion_version}): nothing to compare yet")
