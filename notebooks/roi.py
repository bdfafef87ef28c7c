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
# # Does Claimflow pay?
#
# The question the people who fund a claims automation platform ask first. This notebook answers it
# on Claimflow's own data: the first half **measures** what the platform did with the claims in a
# `$CLAIMFLOW_HOME` (its DuckDB warehouse and its system of record); the second half puts those
# measurements into a **24-month financial model** (FTE cost saved against platform, model and
# people costs) and shows how much the answer depends on the inputs nobody knows precisely.
#
# Every number of the model is a parameter in the next cell or in `monitoring/roi.py::RoiParameters`,
# each with its unit and its source; the arithmetic lives in `monitoring/roi.py` and is unit-tested
# (`tests/unit/test_roi.py`). `claimflow report roi --out roi.html` runs this notebook on the current
# home. Money is in US dollars.

# %% tags=["parameters"]
claimflow_home = ""  # empty: $CLAIMFLOW_HOME (default ./.claimflow)
months = 24  # horizon of the financial model, 12 to 24
annual_discount_rate = 0.10  # for the NPV
claims_per_month = 2000.0  # claims the insurer receives per month
loaded_cost_per_hour = 40.0  # USD per handler hour, salary + charges + overhead
integration_person_months = 6.0  # one-off effort to connect mailbox, policy and claims systems

# %%
# %matplotlib inline
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from models.pricing import PRICE_TABLE
from monitoring import roi

if claimflow_home:
    os.environ["CLAIMFLOW_HOME"] = str(Path(claimflow_home).resolve())
from orchestration.settings import settings

HOME, WAREHOUSE, SOR_URL = settings().home, settings().warehouse_path, settings().sor_url
SOURCE = f"Source: Claimflow warehouse and system of record under {HOME}"
plt.rcParams.update({"figure.figsize": (9, 4.2), "figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3,
                     "axes.spines.top": False, "axes.spines.right": False, "font.size": 10})


def source_note(fig, text=SOURCE):
    """Every figure says where its numbers come from (below the axes, once the layout keeps labels inside)."""
    fig.tight_layout()
    fig.text(0.01, -0.01, text, fontsize=8, color="dimgray", ha="left", va="top")


params = roi.RoiParameters(months=int(months), annual_discount_rate=float(annual_discount_rate),
                           claims_per_month=float(claims_per_month), loaded_cost_per_hour=float(loaded_cost_per_hour),
                           integration_person_months=float(integration_person_months))
measured = roi.measure_yield(WAREHOUSE, SOR_URL)
if measured.serving_cost_per_claim is not None:
    params = params.with_changes(serving_cost_per_claim=measured.serving_cost_per_claim)
display(Markdown(f"Home: `{HOME}`; {measured.claims_decided} claims decided between "
                 f"{measured.first_decided_at:%Y-%m-%d %H:%M} and {measured.last_decided_at:%Y-%m-%d %H:%M} UTC."))

# %% [markdown]
# ## 1. Measured automation yield
#
# What the platform did with the claims in this home. A claim counts once, at its latest machine
# decision. "Decided without a person" means the rules sent it straight to a work queue (fast track,
# standard, specialist); claims held for human or fraud review wait for a reviewer.

# %%
cycle = measured.cycle_time_hours
headline = pd.DataFrame(
    [
        ("claims decided", f"{measured.claims_decided}"),
        ("decided without a person", f"{measured.share_without_person:.1%}"),
        ("held for a person, not decided yet", f"{measured.still_open}"),
        ("cycle time delivery -> decision, median", f"{cycle.median():.2f} h" if len(cycle) else "n/a"),
        ("cycle time, 90th percentile", f"{cycle.quantile(0.9):.2f} h" if len(cycle) else "n/a"),
        ("review queue: items waiting", f"{len(measured.review_waiting_age_minutes)}"),
        ("reviewer decisions / overrides", f"{measured.reviewer_decisions} / {measured.reviewer_overrides}"),
        ("error rate (overrides / reviewer decisions)",
         "no reviewer decision yet" if measured.error_rate is None else f"{measured.error_rate:.1%}"),
        ("claims by queue", ", ".join(f"{q} {n}" for q, n in sorted(measured.by_queue.items()))),
    ],
    columns=["measure", "value"],
).set_index("measure")
display(headline)

# %% [markdown]
# The next figure shows the distribution of cycle time from the e-mail's delivery to the claim's
# decision (the machine's, or the reviewer's for a held claim), in hours; claims still waiting for a
# reviewer are not in it, they are counted above. A long right tail means claims that sat in review.

# %%
# Hours for production traffic; minutes when every claim was decided within two hours (a demo home).
scale, unit = (60.0, "minutes") if len(cycle) and cycle.max() < 2 else (1.0, "hours")
fig, ax = plt.subplots()
if len(cycle):
    shown = cycle * scale
    ax.hist(shown, bins=np.linspace(0, max(shown.max(), 1e-3) * 1.02, 30), color="#4C72B0", alpha=0.85,
            label=f"claims ({len(shown)})")
    for q, style in ((0.5, "-"), (0.9, "--")):
        ax.axvline(shown.quantile(q), color="black", ls=style, lw=1,
                   label=f"{q:.0%} decided within {shown.quantile(q):.3g} {unit}")
    ax.legend()
else:
    ax.text(0.5, 0.5, "no decided claim has a delivery time", ha="center", transform=ax.transAxes)
ax.set(title="Cycle time from e-mail delivery to decision", xlabel=unit, ylabel="claims")
source_note(fig, SOURCE + " (raw.triage_decisions, review_items)")
plt.show()

# %% [markdown]
# Below: for each of the five manual steps a handler does per claim without Claimflow, the share of
# decided claims on which no person had to do it. Reading is avoided unless the extraction was too
# uncertain or the mail looked like an injection attempt; the policy lookup unless the policy failed
# to verify; routing unless the claim was held for review; the system update when the claims system
# holds the machine's write; the status message when a draft waits in the outbox.

# %%
steps = pd.Series(measured.steps_avoided).reindex(roi.MANUAL_STEPS)
minutes = pd.Series({s: getattr(params.step_minutes, s) for s in roi.MANUAL_STEPS})
fig, ax = plt.subplots()
bars = ax.barh([s.replace("_", " ") for s in steps.index], steps.values * 100, color="#55A868")
ax.bar_label(bars, labels=[f"{v:.0%} ({m:.0f} min by hand)" for v, m in zip(steps.values, minutes.values)], padding=3)
ax.set(title="Manual steps avoided, by step", xlabel="% of decided claims needing no person for the step",
       xlim=(0, 119))
ax.invert_yaxis()
source_note(fig, SOURCE + "; minutes by hand: stated assumptions (parameters)")
plt.show()

# %% [markdown]
# Review queue age: how long the items still waiting for a reviewer have waited, in minutes. An empty
# queue has no figure; an old item means the reviewers are the bottleneck, not the platform.

# %%
ages = measured.review_waiting_age_minutes
if len(ages):
    age_scale, age_unit = (60.0, "hours") if ages.max() > 180 else (1.0, "minutes")
    fig, ax = plt.subplots(figsize=(9, 3))
    ax.hist(ages / age_scale, bins=np.linspace(0, ages.max() / age_scale * 1.05, 25), color="#C44E52", alpha=0.85)
    ax.set(title=f"Age of the {len(ages)} review items waiting", xlabel=f"{age_unit} waiting", ylabel="items")
    source_note(fig, SOURCE + " (review_items)")
    plt.show()
    print(f"oldest waiting item: {ages.max():.0f} min, median {ages.median():.0f} min")
else:
    print("no review item is waiting")

# %% [markdown]
# What one claim costs to run, split into serving (the risk model on Triton, measured from its
# compute statistics), LLM tokens (Claude calls priced with the dated price table, measured; zero when
# the template drafter stood in), and platform (the monthly compute of the model below divided by the
# claims per month). The figure shows the three parts, in US cents per claim, and beside them the token cost
# the financial model assumes per claim when Claude drafts and helps extract (its parameters).

# %%
split = roi.cost_per_claim_split(measured, params)
split["LLM tokens (model's assumption)"] = roi.llm_cost_per_claim(params)
cents = pd.Series(split) * 100
floor = max(min(v for v in cents if v > 0) / 10, 1e-9)
fig, ax = plt.subplots(figsize=(9, 3.2))
bars = ax.barh(cents.index, [max(v - floor, 0) for v in cents], left=floor,
               color=["#4C72B0", "#DD8452", "#8172B3", "#E5AE86"])
labels = [f"{v:.2g} ¢" if v > 0 else "0 ¢ (no Claude call measured: template drafter)" for v in cents]
ax.bar_label(bars, labels=labels, padding=3)
ax.set_xscale("log")
ax.set(title=f"Cost per claim: {cents.iloc[:3].sum():.3g} US cents measured (log scale)",
       xlabel="US cents per claim (log scale)", xlim=(floor, cents.max() * 30))
ax.invert_yaxis()
source_note(fig, SOURCE + f"; platform at {params.claims_per_month:,.0f} claims/month; "
            f"assumed tokens priced at the {PRICE_TABLE.as_of} price table")
plt.show()
drafters = ", ".join(f"{k} {v}" for k, v in measured.drafters.items()) or "none"
print(f"status drafts by drafter: {drafters}; model calls logged: {measured.model_calls}; "
      f"prices as of {PRICE_TABLE.as_of} ({PRICE_TABLE.source})")

# %% [markdown]
# ## 2. The financial model
#
# FTE cost saved = claims per month x handler minutes avoided per claim / 60 x loaded cost per hour,
# where the minutes avoided are the stated minutes per step times the **measured** share of claims on
# which the step needs no person. Against it: platform compute (Dagster, MLflow, Triton CPU/GPU nodes,
# Postgres, storage), model cost (tokens per claim at the dated price table, plus measured serving
# cost), the one-off integration effort and ongoing monitoring. Savings start after integration and
# ramp up linearly. The table lists every input with its source.

# %%
pd.set_option("display.max_colwidth", 120)
roi.assumptions_table(params).set_index("input")

# %%
flows = roi.cash_flows(params, measured.steps_avoided)
summary = roi.summarise(params, measured.steps_avoided)
be, dbe = summary["break_even_month"], summary["discounted_break_even_month"]
display(Markdown(
    f"**Break-even month: {be if be else f'not within {params.months} months'}** "
    f"(discounted: {dbe if dbe else 'not within the horizon'}). "
    f"**NPV over {params.months} months at {params.annual_discount_rate:.0%} a year: "
    f"${summary['npv_usd']:,.0f}.** "
    f"At full adoption the platform saves {summary['handler_minutes_avoided_per_claim']:.1f} handler minutes per "
    f"claim, {summary['fte_hours_saved_per_month']:,.0f} hours a month "
    f"({summary['fte_hours_saved_per_month'] / 140:.1f} FTE at 140 productive hours a month)."
))
print(f"break-even month: {be}")
print(f"NPV USD: {summary['npv_usd']:.0f}")

# %% [markdown]
# The figure shows each month's savings (above zero) and costs (below zero) as bars, and the
# cumulative net cash flow as a line; the project has paid for itself where the line crosses zero
# for good (the break-even month, marked).

# %%
fig, ax = plt.subplots(figsize=(10, 4.5))
m = flows["month"]
ax.bar(m, flows["fte_cost_saved"] / 1e3, color="#55A868", label="FTE cost saved")
bottom = np.zeros(len(flows))
for col, color in (("platform", "#8172B3"), ("model", "#DD8452"), ("integration", "#C44E52"),
                   ("monitoring", "#937860")):
    ax.bar(m, flows[col] / 1e3, bottom=bottom, color=color, label=col)
    bottom += flows[col].to_numpy() / 1e3
ax.plot(m, flows["cumulative"] / 1e3, color="black", marker="o", ms=3, label="cumulative net")
ax.axhline(0, color="black", lw=0.8)
if be:
    ax.axvline(be, color="black", ls=":", lw=1)
    ax.annotate(f"break-even: month {be}", (be, 0), xytext=(8, -28), textcoords="offset points",
                bbox={"boxstyle": "round", "fc": "white", "ec": "gray"})
ax.set(title=f"Monthly cash flows and cumulative net, {params.months} months", xlabel="month",
       ylabel="thousand USD")
ax.legend(ncol=3, fontsize=8, loc="upper left")
source_note(fig, "Source: monitoring/roi.py cash_flows on the measured yield; inputs in the table above")
plt.show()

# %%
flows.set_index("month")[["adoption", "fte_cost_saved", "platform", "model", "integration", "monitoring", "net",
                          "cumulative"]].round(0)

# %% [markdown]
# ### Which inputs matter: a tornado
#
# The five most uncertain inputs, each moved alone to a low and a high value while the others stay at
# base. Each bar spans the NPV between the two; the widest bar is the input to pin down first (with a
# time study, a payroll figure, a volume forecast...). The vertical line is the base NPV.

# %% tags=["tornado"]
torn = roi.tornado(params, measured.steps_avoided)
fig, ax = plt.subplots(figsize=(9, 3.6))
base = torn["base_npv"].iloc[0] / 1e3
labels = [f"{r.input}\n({r.low:g} .. {r.high:g} {r.unit})" for r in torn.itertuples()][::-1]
lows, highs = (torn["npv_low"] / 1e3).to_numpy()[::-1], (torn["npv_high"] / 1e3).to_numpy()[::-1]
y = np.arange(len(torn))
ax.barh(y, lows - base, left=base, color="#C44E52", label="input at its low value")
ax.barh(y, highs - base, left=base, color="#55A868", label="input at its high value")
ax.axvline(base, color="black", lw=1)
ax.set_yticks(y, labels, fontsize=8)
ax.set(title=f"Sensitivity of the {params.months}-month NPV (base ${base:,.0f}k)", xlabel="NPV, thousand USD")
ax.legend(fontsize=8, loc="lower right")
source_note(fig, "Source: monitoring/roi.py tornado, one input at a time")
plt.show()
torn[["input", "low", "high", "unit", "npv_low", "npv_high", "swing"]].round(0)

# %% [markdown]
# ## 3. The social flow
#
# Social listening (public posts to trend signals to tickets) saves the time of people watching
# feeds and opening tickets by hand. Its figures appear once the social flow has written its tables.

# %%
social = roi.measure_social(WAREHOUSE, SOR_URL)
if social is None:
    print("social flow: not yet run (no social ticket and no post in this home)")
else:
    delay = social.detection_delay_minutes
    print(f"posts read: {social.posts_read}; tickets opened: {social.tickets} "
          f"({', '.join(f'{k} {v}' for k, v in social.tickets_by_severity.items()) or 'no severity'})")
    if delay is not None and len(delay):
        print(f"detection delay: median {delay.median():.0f} min, 90th percentile {delay.quantile(0.9):.0f} min")
    print(f"handler time saved: {social.handler_hours_saved:.1f} h "
          f"({roi.SOCIAL_SECONDS_PER_POST:.0f} s per post read, {roi.SOCIAL_MINUTES_PER_TICKET:.0f} min per ticket; "
          "stated assumptions)")
    for note in social.notes:
        print(note)

# %% [markdown]
# ## How to read this
#
# - The measured yield comes from this home only. A demo home holds a few hundred sample claims
#   decided minutes after delivery; a production home holds months of real traffic. The financial
#   model uses the measured **shares** (of steps avoided), not the demo's volume.
# - Inputs marked "assumption" are stated, not measured. The tornado shows which of them move the
#   answer; replace them with the insurer's own figures in the parameters cell or with
#   `claimflow report roi` on a production home.
# - Not in the model: faster settlement's effect on customer retention, fraud caught earlier, and
#   reviewers' time spent on the claims held for them (their cost is not counted as saved).
