"""Great Expectations checks guarding `parsed_claims`; the contract blocks everything downstream."""


from dataclasses import asdict

import dagster as dg

from assets.claims.expectations import ExpectationOutcome, validate_parsed_claims
from assets.resources import WarehouseResource
from connectors.schema import PARSED_CLAIMS

SEVERITY = {"contract": dg.AssetCheckSeverity.ERROR, "completeness": dg.AssetCheckSeverity.WARN}


def _result(name: str, outcomes: list[ExpectationOutcome], rows: int) -> dg.AssetCheckResult:
    failed = [o for o in outcomes if not o.success]
    return dg.AssetCheckResult(
        asset_key="parsed_claims",
        check_name=name,
        passed=not failed,
        severity=SEVERITY[name],
        metadata={
            "rows_validated": rows,
            "expectations": len(outcomes),
            "failed": [f"{o.expectation}({o.column})" for o in failed],
            "results": dg.MetadataValue.json([asdict(o) for o in outcomes]),
        },
    )


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            "contract",
            asset="parsed_claims",
            blocking=True,
            description="Number formats, dates not in the future, amounts >= 0, unique claim numbers; blocks on failure.",
        ),
        dg.AssetCheckSpec(
            "completeness",
            asset="parsed_claims",
            description="Share of claims carrying each required field; warns, never blocks.",
        ),
    ],
)
def parsed_claims_expectations(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    """Great Expectations suites over the claims this run created or updated."""
    claims = warehouse.get().read(f"select * from {PARSED_CLAIMS} where updated_run_id = ?", [context.run.run_id])
    if claims.empty:
        for name in SEVERITY:
            yield dg.AssetCheckResult(
                asset_key="parsed_claims", check_name=name, passed=True, metadata={"rows_validated": 0}
            )
        return
    for name, outcomes in validate_parsed_claims(claims).items():
        yield _result(name, outcomes, len(claims))
