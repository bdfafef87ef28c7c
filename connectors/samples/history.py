"""Past claims with outcomes, as the insurer's claims system would hold them.

The policies are real (freMTPLmini rows from `connectors.samples.policies`);
the claims on them are drawn from a documented data-generating process (DGP),
deterministic for `(policies, n, seed, start, end, shift)`. The full write-up,
with the reasons behind each number, is `docs/claims_history.md`.

1. Incident day and loss type, jointly: P(day, k) ~ F(day) share_k season_k(day).
   F is the portfolio in force that day (summed claim weights w of step 2), so
   the volume follows the portfolio and each policy's claim rate stays steady;
   season_k = 1 + a_k cos(2 pi (day_of_year - peak_k) / 365.25). Shares:
   collision .40, glass .30, liability .09, theft .06, storm .05, other .05,
   water .03, fire .02. Storm (hail) peaks mid-June (a = .6), theft early
   January (a = .3), water damage in November (a = .25), glass mid-January (.1).
2. Policy, drawn by claim frequency w = exp(.012 (BM - 50)) x age factor
   (< 25: 1.8, 25-29: 1.3, >= 75: 1.3) x (1 + .5 past_claims) among policies
   active at the incident day (the dbt `policy_status_at_incident` rule) that
   list the loss type. 2% of claims draw from the whole register instead, as
   the claims system accepted them anyway: ~0.5% of all claims end up on a
   policy not active that day, ~0.3% on a loss type the policy does not list.
3. Claim features. Report delay: log1p(days) ~ N(mu_k, .9), mu = collision
   1.0, glass 1.1, theft .6, fire .7, water 1.2, storm 1.5, liability 1.3,
   other 1.3, except 8% late reporters at N(3.0, .8); capped at 365 days.
   Amount (EUR): lognormal, median / sigma collision 1800 / .9, glass 450 /
   .45, theft 7500 / .8, fire 9000 / .9, water 3500 / .9, storm 2500 / .8,
   liability 3000 / 1.1, other 900 / .9, + .05 (power - 6) - .03 (vehicle_age
   - 6) in log (vehicle age capped at 20). Photos: none with P = collision .12,
   glass .08, theft .6, fire .15, water .2, storm .1, liability .3, other .3,
   else 1 + Poisson(l), l = 2, 1, .5, 2, 1.5, 2, 1, 1 in the same order;
   photo_quality ~ Beta(5, 2), mean .71. prior_claims: the register's
   past_claims plus the claims on the policy in the 36 months before the
   incident day (strictly earlier days): this window's claims and either
   `earlier_claims` or, by default, a lookback drawn at the window's rate.
4. Outcomes: two logistic models, each with N(0, .5) noise on the logit.
   specialist = -2.5 + b_k + .55 ln(amount / 2000) + .03 (vehicle_age - 6)
                + .004 (BM - 50) + .6 no_photo + 1.2 (.7 - quality) + e
     b = collision 0, glass -1.5, theft 1.3, fire 1.5, water .4, storm .2,
         liability 1.0, other .3
   fraud = -5.0 + c_k + .8 ln(1 + delay) + .3 ln(amount / 2000)
           + .35 min(prior_claims, 5) + .015 (BM - 50) + age + area
           + .5 no_photo + 1.5 (.7 - quality) + .7 [tenure < 90 days]
           + 1.0 [policy not active at the incident] + e
     c = collision 0, glass -.3, theft 1.2, fire 1.0, water 0, storm -.2,
         liability .3, other 0; age = < 25: .6, 25-29: .3, >= 75: .8;
         area = A -.2, B -.1, C 0, D .1, E .25, F .4
   (quality terms are 0 without photos). high_risk = needed_specialist or
   fraud_confirmed: ~19-20% of claims for 30,000 claims over 3 years
   (specialist ~13%, fraud ~8-9%); denser histories have more prior claims,
   hence more (~26% for 200,000). final_cost = amount x exp(N(.05, .25)) x 1.1
   with a specialist; confirmed fraud is refused (0) 80% of the time, else
   paid at half. closed_date = reported + (days_k + 35 specialist + 90 fraud)
   x exp(N(0, .5)), days_k = 30, 10, 60, 75, 45, 40, 90, 30.
5. `shift` in [0, 1], every effect linear in it: amounts x (1 + .25 shift),
   storm share x (1 + 2 shift), report delays + .4 shift in log1p and late
   reporters .08 + .07 shift, photo_quality ~ Beta(5 - 2 shift, 2 + shift),
   drivers under 30 weighted x (1 + 1.5 shift). The outcome equations do not
   move; the positive share rises through the features alone.

Claim numbers are `CLM-YYYY-NNNNNN` with YYYY the incident year and NNNNNN in
500000-999999, out of reach of the live sample inbox: each day of the year owns
a block of 1,366 numbers, so calls on disjoint date windows never collide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

HISTORY_COLUMNS = (
    "claim_number", "policy_number", "incident_date", "reported_date", "report_delay_days",
    "loss_type", "estimated_amount", "currency", "estimated_amount_eur", "photo_count",
    "photo_quality", "prior_claims", "needed_specialist", "fraud_confirmed", "final_cost",
    "closed_date", "high_risk", "label_source",
)
LOSS_TYPES = (
    "auto_collision", "auto_glass", "theft", "fire", "water_damage", "storm", "liability", "other",
)
SEQUENCE_START = 500_000
DAY_BLOCK = 1_366  # 366 day blocks of this size stay below 1,000,000
ACCEPTED_ANYWAY_SHARE = 0.02
HISTORY_CLAIMS = 30_000
PRIOR_LOOKBACK_DAYS = 1_095  # the "sinistres des 36 derniers mois" of French motor underwriting
_MAX_POLICY_ROUNDS = 200

# Per loss type, in LOSS_TYPES order.
_SHARE = np.array([0.40, 0.30, 0.06, 0.02, 0.03, 0.05, 0.09, 0.05])
_SEASON_AMPLITUDE = np.array([0.0, 0.10, 0.30, 0.0, 0.25, 0.60, 0.0, 0.0])
_SEASON_PEAK_DOY = np.array([1, 15, 5, 1, 320, 167, 1, 1])
_DELAY_MU = np.array([1.0, 1.1, 0.6, 0.7, 1.2, 1.5, 1.3, 1.3])
_AMOUNT_MEDIAN = np.array([1800.0, 450.0, 7500.0, 9000.0, 3500.0, 2500.0, 3000.0, 900.0])
_AMOUNT_SIGMA = np.array([0.90, 0.45, 0.80, 0.90, 0.90, 0.80, 1.10, 0.90])
_AMOUNT_FLOOR = np.array([150.0, 80.0, 500.0, 500.0, 200.0, 150.0, 150.0, 80.0])
_NO_PHOTO = np.array([0.12, 0.08, 0.60, 0.15, 0.20, 0.10, 0.30, 0.30])
_EXTRA_PHOTOS = np.array([2.0, 1.0, 0.5, 2.0, 1.5, 2.0, 1.0, 1.0])
_SPECIALIST_TYPE = np.array([0.0, -1.5, 1.3, 1.5, 0.4, 0.2, 1.0, 0.3])
_FRAUD_TYPE = np.array([0.0, -0.3, 1.2, 1.0, 0.0, -0.2, 0.3, 0.0])
_CLOSE_DAYS = np.array([30.0, 10.0, 60.0, 75.0, 45.0, 40.0, 90.0, 30.0])

# Claims system settings, not per loss type.
_LATE_SHARE, _LATE_MU, _LATE_SIGMA, _DELAY_SIGMA = 0.08, 3.0, 0.8, 0.9
_QUALITY_A, _QUALITY_B = 5.0, 2.0
_AREA_FRAUD = {"A": -0.2, "B": -0.1, "C": 0.0, "D": 0.1, "E": 0.25, "F": 0.4}
_SPECIALIST_INTERCEPT, _FRAUD_INTERCEPT, _LOGIT_NOISE = -2.5, -5.0, 0.5

_SHIFT_AMOUNT, _SHIFT_STORM, _SHIFT_DELAY_MU, _SHIFT_LATE = 0.25, 2.0, 0.4, 0.07
_SHIFT_QUALITY_A, _SHIFT_QUALITY_B, _SHIFT_YOUNG = 2.0, 1.0, 1.5

_EPOCH = np.datetime64("1970-01-01", "D")


def _day_numbers(values: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 as float, NaN where the date is missing."""
    as_datetime = pd.to_datetime(values, errors="coerce")
    days = (as_datetime.to_numpy(dtype="datetime64[D]") - _EPOCH).astype("float64")
    days[as_datetime.isna().to_numpy()] = np.nan
    return days


def _as_dates(days: np.ndarray) -> pd.Series:
    """Integer day numbers back to an object column of `datetime.date`, like the policy table."""
    return pd.Series((_EPOCH + days.astype("timedelta64[D]")).astype(object), dtype=object)


def _age_factor(driver_age: np.ndarray) -> np.ndarray:
    return np.select([driver_age < 25, driver_age < 30, driver_age >= 75], [1.8, 1.3, 1.3], 1.0)


def _age_fraud(driver_age: np.ndarray) -> np.ndarray:
    return np.select([driver_age < 25, driver_age < 30, driver_age >= 75], [0.6, 0.3, 0.8], 0.0)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _active(day: np.ndarray, start: np.ndarray, end: np.ndarray, lapsed: np.ndarray) -> np.ndarray:
    """The dbt `policy_status_at_incident == 'active'` rule, on day numbers."""
    return (day >= start) & (day <= end) & ~(lapsed <= day)


def _weighted_draw(rng: np.random.Generator, cumulative: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with probability proportional to the weights behind `cumulative`."""
    index = np.searchsorted(cumulative, rng.random(size) * cumulative[-1], side="right")
    return np.minimum(index, cumulative.size - 1)


@dataclass(frozen=True)
class _Register:
    """The policy columns the DGP reads, as arrays; dates as day numbers (NaN if missing)."""

    policy_number: np.ndarray
    start: np.ndarray
    end: np.ndarray
    lapsed: np.ndarray
    covers: np.ndarray  # policies x LOSS_TYPES
    bonus_malus: np.ndarray
    driver_age: np.ndarray
    vehicle_age: np.ndarray
    vehicle_power: np.ndarray
    past_claims: np.ndarray
    area: np.ndarray

    @classmethod
    def of(cls, policies: pd.DataFrame) -> _Register:
        cover_codes, cover_lists = pd.factorize(policies["covered_loss_types"].fillna("").astype(str))
        cover_table = np.array([[k in text.split(",") for k in LOSS_TYPES] for text in cover_lists], dtype=bool)
        return cls(
            policy_number=policies["policy_number"].to_numpy(dtype=object),
            start=_day_numbers(policies["start_date"]),
            end=_day_numbers(policies["end_date"]),
            lapsed=_day_numbers(policies["lapsed_on"]),
            covers=cover_table[cover_codes].reshape(len(policies), len(LOSS_TYPES)),
            bonus_malus=policies["bonus_malus"].to_numpy(dtype="float64"),
            driver_age=policies["driver_age"].to_numpy(dtype="float64"),
            vehicle_age=policies["vehicle_age"].to_numpy(dtype="float64"),
            vehicle_power=policies["vehicle_power"].to_numpy(dtype="float64"),
            past_claims=policies["past_claims"].to_numpy(dtype="int64"),
            area=policies["area"].astype(str).to_numpy(dtype=object),
        )

    def claim_weight(self, shift: float) -> np.ndarray:
        """Relative claim frequency per policy: bonus-malus, driver age, past claims."""
        weight = np.exp(0.012 * (self.bonus_malus - 50)) * _age_factor(self.driver_age) * (1 + 0.5 * self.past_claims)
        return weight * np.where(self.driver_age < 30, 1.0 + _SHIFT_YOUNG * shift, 1.0)


def _day_range(start: date, end: date) -> np.ndarray:
    """Day numbers of `start` to `end`, both included."""
    first = (np.datetime64(start, "D") - _EPOCH).astype(np.int64)
    return first + np.arange((end - start).days + 1, dtype=np.int64)


def _in_force(register: _Register, weight: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Per day of the contiguous `days`, the summed claim weight of the policies active that day."""
    stop = np.fmin(register.end + 1, register.lapsed)  # first day no longer active
    known = ~np.isnan(register.start) & ~np.isnan(stop)
    first_index = np.clip(register.start[known] - days[0], 0, days.size).astype(np.int64)
    stop_index = np.clip(stop[known] - days[0], 0, days.size).astype(np.int64)
    delta = np.zeros(days.size + 1)
    np.add.at(delta, first_index, weight[known])
    np.add.at(delta, stop_index, -weight[known])
    return np.clip(np.cumsum(delta)[:-1], 0, None)


def _incidents(rng: np.random.Generator, n: int, days: np.ndarray, in_force: np.ndarray, shift: float):
    """Incident days and loss type codes, drawn jointly: volume follows the portfolio, mix the season."""
    dates = _EPOCH + days.astype("timedelta64[D]")
    doy = (dates - dates.astype("datetime64[Y]")).astype(int) + 1
    season = 1.0 + _SEASON_AMPLITUDE * np.cos(2 * np.pi * (doy[:, None] - _SEASON_PEAK_DOY) / 365.25)
    share = _SHARE.copy()
    share[LOSS_TYPES.index("storm")] *= 1.0 + _SHIFT_STORM * shift
    cell = _weighted_draw(rng, np.cumsum((in_force[:, None] * season * share).ravel()), n)
    return days[cell // len(LOSS_TYPES)], cell % len(LOSS_TYPES)


def _pick_policies(
    rng: np.random.Generator, register: _Register, day: np.ndarray, kind: np.ndarray, shift: float,
    *, strict: bool = True,
) -> np.ndarray:
    """Register row per claim, by weight among policies active that day and covering the loss type.

    Rejection sampling: draw among covering policies, keep the draws active at
    the incident day, redraw the rest. `ACCEPTED_ANYWAY_SHARE` of claims draw
    from the whole register instead. Not `strict`: claims nobody could have
    made get row -1 instead of an error.
    """
    n = day.size
    weight = register.claim_weight(shift)
    row = np.empty(n, dtype=np.int64)
    anyway = rng.random(n) < ACCEPTED_ANYWAY_SHARE
    row[anyway] = _weighted_draw(rng, np.cumsum(weight), int(anyway.sum()))
    for k in range(len(LOSS_TYPES)):
        eligible = np.flatnonzero(register.covers[:, k])
        pending = np.flatnonzero((kind == k) & ~anyway)
        if pending.size == 0:
            continue
        if eligible.size == 0:
            raise ValueError(f"no policy in the register covers {LOSS_TYPES[k]!r}")
        cumulative = np.cumsum(weight[eligible])
        for _ in range(_MAX_POLICY_ROUNDS):
            draw = eligible[_weighted_draw(rng, cumulative, pending.size)]
            ok = _active(day[pending], register.start[draw], register.end[draw], register.lapsed[draw])
            row[pending[ok]] = draw[ok]
            pending = pending[~ok]
            if pending.size == 0:
                break
        if not strict:
            row[pending] = -1
            continue
        # A handful left after many rounds is bad luck; many mean the window misses the register.
        if pending.size > max(10, 0.01 * n):
            raise ValueError(
                f"too few policies in the register are active on the incident days of "
                f"{pending.size} {LOSS_TYPES[k]} claims; choose a window inside the policy periods"
            )
        row[pending] = eligible[_weighted_draw(rng, cumulative, pending.size)]
    return row


def _lookback_claims(
    rng: np.random.Generator, register: _Register, n: int, window_in_force: float, start: date,
) -> tuple[np.ndarray, np.ndarray]:
    """Policy numbers and incident days of the claims in the lookback before `start`.

    At the window's claim rate per policy in force, unshifted: what the claims
    system already held, so early claims in the window see as much past as late ones.
    """
    days = _day_range(start - timedelta(days=PRIOR_LOOKBACK_DAYS), start - timedelta(days=1))
    in_force = _in_force(register, register.claim_weight(0.0), days)
    burn_in = int(np.rint(n * in_force.sum() / window_in_force))
    if burn_in == 0:
        return np.empty(0, dtype=object), np.empty(0, dtype=np.int64)
    day, kind = _incidents(rng, burn_in, days, in_force, 0.0)
    row = _pick_policies(rng, register, day, kind, 0.0, strict=False)
    known = row >= 0
    return register.policy_number[row[known]], day[known]


def _prior_counts(
    policy: np.ndarray, day: np.ndarray, other_policy: np.ndarray, other_day: np.ndarray,
) -> np.ndarray:
    """Per claim, the claims on its policy (its window's and the others) in the lookback.

    Strictly earlier incident days only, as the warehouse counts them: a claim
    never counts itself or a claim from the same day.
    """
    all_day = np.concatenate([day, other_day]).astype(np.int64)
    codes, _ = pd.factorize(np.concatenate([policy, other_policy]))
    offset = all_day.min() - PRIOR_LOOKBACK_DAYS if all_day.size else 0
    span = int(all_day.max() - offset + 1) if all_day.size else 1
    keys = np.sort(codes.astype(np.int64) * span + (all_day - offset))
    own = codes[: policy.size].astype(np.int64) * span + (day.astype(np.int64) - offset)
    return np.searchsorted(keys, own, side="left") - np.searchsorted(keys, own - PRIOR_LOOKBACK_DAYS, side="left")


def _claim_numbers(day: np.ndarray) -> np.ndarray:
    """`CLM-YYYY-NNNNNN` for rows already sorted by incident day."""
    dates = _EPOCH + day.astype("timedelta64[D]")
    year_start = dates.astype("datetime64[Y]")
    doy = (dates - year_start).astype(int)
    rank_in_day = pd.Series(day).groupby(day, sort=False).cumcount().to_numpy()
    if rank_in_day.size and rank_in_day.max() >= DAY_BLOCK:
        raise ValueError(
            f"more than {DAY_BLOCK} claims on one incident day; widen the window or lower n"
        )
    sequence = SEQUENCE_START + doy * DAY_BLOCK + rank_in_day
    year = year_start.astype(int) + 1970
    return np.array([f"CLM-{y}-{q:06d}" for y, q in zip(year.tolist(), sequence.tolist())], dtype=object)


def generate_claims_history(
    policies: pd.DataFrame,
    *,
    n: int,
    seed: int,
    start: date,
    end: date,
    shift: float = 0.0,
    earlier_claims: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """`n` past claims with incidents in `[start, end]`, their features and outcomes.

    `policies` is the register (`build_policy_table`). `shift` in [0, 1] draws a
    later, drifted period (0 = the history's distribution). `prior_claims` looks
    back 36 months: into `earlier_claims` when given (claims of an earlier,
    disjoint window with `policy_number` and `incident_date`, e.g. a previous
    call's output), otherwise into a lookback drawn at this window's rate and not
    returned. Deterministic for its arguments.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if not 0.0 <= shift <= 1.0:
        raise ValueError(f"shift must be in [0, 1], got {shift}")
    if len(policies) == 0:
        raise ValueError("the policy register is empty")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]
    when_rng, policy_rng, feature_rng, outcome_rng, lookback_rng = streams
    register = _Register.of(policies)

    days = _day_range(start, end)
    in_force = _in_force(register, register.claim_weight(shift), days)
    if not in_force.any():
        raise ValueError(f"no policy in the register is active between {start} and {end}")
    day, kind = _incidents(when_rng, n, days, in_force, shift)
    row = _pick_policies(policy_rng, register, day, kind, shift)
    order = np.lexsort((row, day))
    day, kind, row = day[order], kind[order], row[order]
    policy_number = register.policy_number[row]

    z_delay, u_late, z_late = feature_rng.standard_normal(n), feature_rng.random(n), feature_rng.standard_normal(n)
    z_amount, u_photo = feature_rng.standard_normal(n), feature_rng.random(n)
    extra_photos = feature_rng.poisson(_EXTRA_PHOTOS[kind])
    quality = feature_rng.beta(_QUALITY_A - _SHIFT_QUALITY_A * shift, _QUALITY_B + _SHIFT_QUALITY_B * shift, n)

    late = u_late < _LATE_SHARE + _SHIFT_LATE * shift
    log_delay = np.where(late, _LATE_MU + _LATE_SIGMA * z_late, _DELAY_MU[kind] + _DELAY_SIGMA * z_delay)
    delay = np.clip(np.floor(np.expm1(np.clip(log_delay + _SHIFT_DELAY_MU * shift, 0, None))), 0, 365)
    delay = delay.astype(np.int64)

    vehicle_age = np.minimum(register.vehicle_age[row], 20)
    power = register.vehicle_power[row]
    log_amount = (np.log(_AMOUNT_MEDIAN[kind]) + _AMOUNT_SIGMA[kind] * z_amount
                  + 0.05 * (power - 6) - 0.03 * (vehicle_age - 6) + np.log1p(_SHIFT_AMOUNT * shift))
    amount = np.round(np.maximum(np.exp(log_amount), _AMOUNT_FLOOR[kind]), 2)

    photo_count = np.where(u_photo < _NO_PHOTO[kind], 0, 1 + extra_photos).astype(np.int64)
    no_photo = photo_count == 0
    photo_quality = np.where(no_photo, np.nan, np.round(quality, 3))
    quality_gap = np.where(no_photo, 0.0, 0.7 - quality)

    if earlier_claims is None:
        window_in_force = _in_force(register, register.claim_weight(0.0), days).sum()
        other_policy, other_day = _lookback_claims(lookback_rng, register, n, window_in_force, start)
    else:
        other_day = _day_numbers(earlier_claims["incident_date"])
        known = ~np.isnan(other_day)
        other_policy = earlier_claims["policy_number"].to_numpy(dtype=object)[known]
        other_day = other_day[known]
    prior = register.past_claims[row] + _prior_counts(policy_number, day, other_policy, other_day)

    bm = register.bonus_malus[row]
    area_fraud = pd.Series(register.area[row]).map(_AREA_FRAUD).fillna(0.0).to_numpy()
    tenure = day - register.start[row]
    inactive = ~_active(day, register.start[row], register.end[row], register.lapsed[row])
    log_ratio = np.log(amount / 2000.0)

    noise_s, noise_f = outcome_rng.standard_normal(n), outcome_rng.standard_normal(n)
    u_s, u_f = outcome_rng.random(n), outcome_rng.random(n)
    z_cost, z_close, u_denied = outcome_rng.standard_normal(n), outcome_rng.standard_normal(n), outcome_rng.random(n)

    specialist_logit = (_SPECIALIST_INTERCEPT + _SPECIALIST_TYPE[kind] + 0.55 * log_ratio
                        + 0.03 * (vehicle_age - 6) + 0.004 * (bm - 50) + 0.6 * no_photo
                        + 1.2 * quality_gap + _LOGIT_NOISE * noise_s)
    fraud_logit = (_FRAUD_INTERCEPT + _FRAUD_TYPE[kind] + 0.8 * np.log1p(delay) + 0.3 * log_ratio
                   + 0.35 * np.minimum(prior, 5) + 0.015 * (bm - 50) + _age_fraud(register.driver_age[row])
                   + area_fraud + 0.5 * no_photo + 1.5 * quality_gap + 0.7 * (tenure < 90)
                   + 1.0 * inactive + _LOGIT_NOISE * noise_f)
    needed_specialist = u_s < _sigmoid(specialist_logit)
    fraud_confirmed = u_f < _sigmoid(fraud_logit)

    # Confirmed fraud is mostly refused outright, otherwise settled at half.
    paid = amount * np.exp(0.05 + 0.25 * z_cost) * np.where(needed_specialist, 1.1, 1.0)
    paid = np.where(fraud_confirmed, np.where(u_denied < 0.8, 0.0, 0.5 * paid), paid)
    close_days = (_CLOSE_DAYS[kind] + 35 * needed_specialist + 90 * fraud_confirmed) * np.exp(0.5 * z_close)
    reported = day + delay
    closed = reported + np.maximum(np.round(close_days), 1).astype(np.int64)

    history = pd.DataFrame({
        "claim_number": _claim_numbers(day),
        "policy_number": policy_number,
        "incident_date": _as_dates(day),
        "reported_date": _as_dates(reported),
        "report_delay_days": delay,
        "loss_type": np.array(LOSS_TYPES, dtype=object)[kind],
        "estimated_amount": amount,
        "currency": "EUR",
        "estimated_amount_eur": amount,
        "photo_count": photo_count,
        "photo_quality": photo_quality,
        "prior_claims": prior.astype(np.int64),
        "needed_specialist": needed_specialist,
        "fraud_confirmed": fraud_confirmed,
        "final_cost": np.round(paid, 2),
        "closed_date": _as_dates(closed),
        "high_risk": needed_specialist | fraud_confirmed,
        "label_source": "history",
    })
    return history.loc[:, list(HISTORY_COLUMNS)]


def history_periods(policies: pd.DataFrame, *, seed: int, today: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A 3-year history ending 61 days before `today` and the 60 days after it, both at shift 0.

    History: 30,000 claims on `[today - 60 days - 3 years, today - 61 days]`.
    Recent: `[today - 60 days, today - 1 day]`, seeded `seed + 1`, at the
    history's claim rate per policy in force (about 2,000 claims when the
    portfolio is steady), with the history counted in its `prior_claims`.
    Recent claims carry the outcomes they will have: their reported and closed
    dates may lie after `today`.
    """
    recent_start = today - timedelta(days=60)
    history_start = recent_start - timedelta(days=3 * 365)
    history_end = recent_start - timedelta(days=1)
    recent_end = today - timedelta(days=1)
    history = generate_claims_history(policies, n=HISTORY_CLAIMS, seed=seed, start=history_start, end=history_end)
    register = _Register.of(policies)
    weight = register.claim_weight(0.0)
    rate = HISTORY_CLAIMS / _in_force(register, weight, _day_range(history_start, history_end)).sum()
    n_recent = int(np.rint(rate * _in_force(register, weight, _day_range(recent_start, recent_end)).sum()))
    recent = generate_claims_history(
        policies, n=n_recent, seed=seed + 1, start=recent_start, end=recent_end, earlier_claims=history,
    )
    return history, recent


def land_parsed_claims(warehouse_path, policies: pd.DataFrame, recent: pd.DataFrame, run_id: str) -> int:
    """Claims of the claims system as intake would have parsed them, straight into `raw.parsed_claims`.

    For benches and tests that start at triage: one mail per claim, received at 09:00 on its
    reported day from the holder's own address (without a sender every claim fails the sender
    check and waits for a person), with its receipt. Returns the number of claims landed.
    """
    from connectors.schema import EMAIL_RECEIPTS, PARSED_CLAIMS
    from connectors.warehouse import Warehouse

    received = pd.to_datetime(recent["reported_date"]) + pd.Timedelta(hours=9)
    holder = policies.set_index("policy_number")["holder_email"]
    frame = pd.DataFrame({
        "claim_number": recent["claim_number"], "policy_number": recent["policy_number"],
        "incident_date": recent["incident_date"], "loss_type": recent["loss_type"],
        "estimated_amount": recent["estimated_amount"].round(2), "currency": "EUR", "description": "",
        "contact_email": None, "photos": "[]", "photo_count": 0, "confidence": "{}", "provenance": "{}",
        "min_confidence": 0.95, "sender": recent["policy_number"].map(holder),
        "source_content_hash": recent["claim_number"],
        "received_at": received, "last_received_at": received, "message_count": 1, "follow_up_count": 0,
        "extractor_version": run_id, "updated_run_id": run_id,
    })  # fmt: skip
    receipts = pd.DataFrame({"inbox_key": frame["claim_number"], "content_hash": frame["claim_number"], "size": 0,
                             "delivered_at": received, "ingested_at": received, "duplicate": False, "run_id": run_id})
    wh = Warehouse(warehouse_path)
    wh.ensure_schema()
    with wh.transaction() as con:
        wh.append(con, PARSED_CLAIMS, frame)
        wh.append(con, EMAIL_RECEIPTS, receipts)
    return len(frame)
