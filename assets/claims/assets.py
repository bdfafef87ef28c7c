"""Claims intake assets: inbox e-mails to raw messages, messages to claims (or quarantine)."""


import dagster as dg
from pydantic import Field
from tqdm import tqdm

from assets.claims import intake
from assets.groups import CLAIMS
from assets.resources import (
    AttachmentStoreResource,
    ClaudeResource,
    InboxResource,
    SystemOfRecordResource,
    WarehouseResource,
)
from connectors.schema import PARSED_CLAIMS, POLICIES, QUARANTINED
from models.extraction import (
    DEFAULT_CLAIM_PATTERN,
    DEFAULT_POLICY_PATTERN,
    ExtractionRules,
)


class ClaimEmailsConfig(dg.Config):
    """Which inbox files a run reads."""

    inbox_keys: list[str] = Field(
        default_factory=list, description="Inbox file names to read; empty reads everything new in the inbox."
    )
    max_messages: int = Field(20_000, description="Upper bound on files read by one run.")
    show_progress: bool = Field(False, description="Print a progress bar (CLI runs).")


class ParsingConfig(dg.Config):
    """Number formats of the insurer; the defaults are its canonical forms."""

    claim_number_pattern: str = Field(DEFAULT_CLAIM_PATTERN, description="Regex with groups `year` and `seq`.")
    policy_number_pattern: str = Field(DEFAULT_POLICY_PATTERN, description="Regex with group `digits`.")


@dg.asset(group_name=CLAIMS, kinds={"python", "duckdb"})
def claim_emails(
    context: dg.AssetExecutionContext,
    config: ClaimEmailsConfig,
    inbox: InboxResource,
    attachments: AttachmentStoreResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Raw claim e-mails: one row per distinct message, keyed by its content hash."""
    mailbox = inbox.get()
    wh = warehouse.get()
    items = mailbox.list_new()
    if config.inbox_keys:
        wanted = set(config.inbox_keys)
        items = [i for i in items if i.key in wanted]
    items = items[: config.max_messages]
    bar = tqdm(total=len(items), desc="intake", unit="mail", disable=not config.show_progress)
    with bar:
        res = intake.ingest_inbox(
            mailbox,
            items,
            attachments.get(),
            wh,
            run_id=context.run.run_id,
            max_attachment_bytes=inbox.max_attachment_bytes,
            progress=bar.update,
        )
    context.log.info(f"read {res.files} files: {res.new_messages} new messages, {res.duplicates} duplicate sends")
    return dg.MaterializeResult(
        metadata={
            "files_read": res.files,
            "new_messages": res.new_messages,
            "duplicate_sends": res.duplicates,
            "unparseable_files": dg.MetadataValue.json(res.parse_errors),
            "attachments_stored": res.attachments_stored,
            "attachments_skipped": dg.MetadataValue.json(res.attachments_skipped),
        }
    )


@dg.multi_asset(
    group_name=CLAIMS,
    specs=[
        dg.AssetSpec(
            "parsed_claims",
            deps=[claim_emails],
            description="Claims extracted from e-mail: canonical fields, per-field confidence and provenance.",
            kinds={"python", "duckdb"},
        ),
        dg.AssetSpec(
            "quarantined_emails",
            deps=[claim_emails],
            description="Every message that could not become a claim, with the reason. Nothing is dropped.",
            kinds={"python", "duckdb"},
        ),
    ],
)
def parsed_claims_and_quarantine(
    context: dg.AssetExecutionContext, config: ParsingConfig, warehouse: WarehouseResource, claude: ClaudeResource,
    system_of_record: SystemOfRecordResource,
):
    """Extract fields from new messages, link follow-ups to their claim, number first notices, quarantine the rest."""
    wh = warehouse.get()
    rules = ExtractionRules(
        claim_number_pattern=config.claim_number_pattern, policy_number_pattern=config.policy_number_pattern
    )
    client = claude.client()  # None without a key: the rule extractor alone
    try:
        res = intake.parse_pending(
            wh, run_id=context.run.run_id, rules=rules, assist=_assist(client) if client else None,
            assign_numbers=system_of_record.assign_claim_numbers,
        )
    finally:
        if client is not None:
            client.close()
    if res.calls:
        intake.store_calls(wh, res.calls, context.run.run_id)
    totals = wh.read(
        f"select (select count(*) from {PARSED_CLAIMS}) as claims,"
        f" (select count(*) from {QUARANTINED}) as quarantined"
    ).iloc[0]
    yield dg.MaterializeResult(
        asset_key="parsed_claims",
        metadata={
            "messages_processed": res.messages,
            "new_claims": res.new_claims,
            "follow_ups_linked": res.follow_ups,
            "linked_by_reply_header": res.linked_by_reply,
            "first_notices_numbered": res.first_notices,
            "flagged_as_instructing_a_model": res.flagged,
            "extraction_help": "claude" if client else "none (no ANTHROPIC_API_KEY): rules only",
            "claims_total": int(totals["claims"]),
            "dagster/row_count": int(totals["claims"]),
        },
    )
    yield dg.MaterializeResult(
        asset_key="quarantined_emails",
        metadata={
            "quarantined_this_run": dg.MetadataValue.json(res.quarantined),
            "dagster/row_count": int(totals["quarantined"]),
        },
    )


def _assist(client):
    """Claude's extraction help for low-confidence fields, personal data redacted before it leaves."""
    import json

    from models.assist import assist_extraction

    def assist(fields, email):
        return assist_extraction(
            fields, email["subject"] or "", email["body_text"] or "", client,
            received_at=email["received_at"], sender_name=email["sender_name"],
            defects=json.loads(email["defects"] or "[]"), claim_ref=email["content_hash"],
        )

    return assist


@dg.asset(group_name=CLAIMS, kinds={"python", "duckdb"})
def policies(system_of_record: SystemOfRecordResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The policy register, copied from the system of record into the warehouse."""
    frame = system_of_record.policies().fetch_policies()
    if frame.empty:
        raise dg.Failure(
            "the policy system of record is empty: seed it with `claimflow policies seed`",
            allow_retries=False,
        )
    wh = warehouse.get()
    with wh.transaction() as con:
        wh.replace(con, POLICIES, frame)
    by_status = frame["status"].value_counts().to_dict()
    return dg.MaterializeResult(
        metadata={"dagster/row_count": len(frame), "by_status": dg.MetadataValue.json(by_status)}
    )
