"""The data contract of `parsed_claims`, as Great Expectations suites on an ephemeral context.

Two suites: `contract` (error: a failure stops everything downstream) and
`completeness` (warning: shows how much the extractor missed without stopping work).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

CLAIM_NUMBER_REGEX = r"^CLM-\d{4}-\d{6}$"
POLICY_NUMBER_REGEX = r"^POL-\d{7}$"
CURRENCY_REGEX = r"^[A-Z]{3}$"
# Share of claims that must carry each field before the completeness check warns.
COMPLETENESS_FLOORS = {
    "policy_number": 0.90,
    "incident_date": 0.85,
    "loss_type": 0.85,
    "estimated_amount": 0.75,
    "contact_email": 0.95,
}


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict, flattened for check metadata."""

    expectation: str
    column: str
    success: bool
    unexpected_count: int
    unexpected_percent: float
    examples: list


def _contract(gxe):
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="claim_number"),
        gxe.ExpectColumnValuesToBeUnique(column="claim_number"),
        gxe.ExpectColumnValuesToMatchRegex(column="claim_number", regex=CLAIM_NUMBER_REGEX),
        gxe.ExpectColumnValuesToMatchRegex(column="policy_number", regex=POLICY_NUMBER_REGEX),
        gxe.ExpectColumnValuesToMatchRegex(column="currency", regex=CURRENCY_REGEX),
        gxe.ExpectColumnValuesToBeBetween(column="estimated_amount", min_value=0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="received_date",
            column_B="incident_date",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
        gxe.ExpectColumnValuesToBeBetween(column="incident_date", max_value=datetime.now()),
        gxe.ExpectColumnValuesToBeBetween(column="min_confidence", min_value=0, max_value=1),
    ]


def _completeness(gxe):
    return [gxe.ExpectColumnValuesToNotBeNull(column=c, mostly=floor) for c, floor in COMPLETENESS_FLOORS.items()]


def _frame_for_validation(claims: pd.DataFrame) -> pd.DataFrame:
    frame = claims.copy()
    frame["estimated_amount"] = pd.to_numeric(frame["estimated_amount"], errors="coerce")
    frame["incident_date"] = pd.to_datetime(frame["incident_date"])
    frame["received_date"] = pd.to_datetime(frame["received_at"]).dt.normalize()
    return frame


def ephemeral_context():
    """A Great Expectations context that lives in memory and prints no progress bars."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    return context


def validate_parsed_claims(claims: pd.DataFrame) -> dict[str, list[ExpectationOutcome]]:
    """Run both suites over `claims`; returns outcomes per suite name."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = ephemeral_context()
    batch_def = (
        context.data_sources.add_pandas("claimflow")
        .add_dataframe_asset("parsed_claims")
        .add_batch_definition_whole_dataframe("run")
    )
    frame = _frame_for_validation(claims)
    outcomes: dict[str, list[ExpectationOutcome]] = {}
    for name, build in (("contract", _contract), ("completeness", _completeness)):
        suite = context.suites.add(gx.ExpectationSuite(name=f"parsed_claims_{name}", expectations=build(gxe)))
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"parsed_claims_{name}", data=batch_def, suite=suite)
        )
        result = validation.run(batch_parameters={"dataframe": frame})
        outcomes[name] = [_outcome(r) for r in result.results]
    return outcomes


def _outcome(r) -> ExpectationOutcome:
    kwargs = r.expectation_config.kwargs
    column = kwargs.get("column") or f"{kwargs.get('column_A')}>={kwargs.get('column_B')}"
    res = r.result or {}
    return ExpectationOutcome(
        expectation=r.expectation_config.type,
        column=column,
        success=bool(r.success),
        unexpected_count=int(res.get("unexpected_count") or 0),
        unexpected_percent=round(float(res.get("unexpected_percent") or 0.0), 3),
        examples=[str(x) for x in (res.get("partial_unexpected_list") or [])[:5]],
    )
