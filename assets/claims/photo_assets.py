"""Photo quality of every claim photo, and photos re-used across claims (a fraud signal)."""

import json
from datetime import datetime

import dagster as dg
import pandas as pd

from assets.claims.photos import PhotoError, PhotoQuality, assess_photo, find_reused
from assets.groups import CLAIMS
from assets.resources import AttachmentStoreResource, WarehouseResource
from connectors.schema import PARSED_CLAIMS, PHOTO_QUALITY
from connectors.values import utc_naive


@dg.asset(group_name=CLAIMS, deps=["parsed_claims"], kinds={"python", "duckdb"})
def photo_quality(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, attachments: AttachmentStoreResource
) -> dg.MaterializeResult:
    """Sharpness, exposure, resolution and perceptual hash of each claim photo; re-use across claims."""
    wh = warehouse.get()
    store = attachments.get()
    # The photo list is JSON text; it is expanded here, not in SQL, so the same code runs on DuckDB and
    # PostgreSQL (their JSON/list functions differ). Re-use detection below reads every assessed photo anyway.
    claims = wh.read(f"select claim_number, incident_date, photos from {PARSED_CLAIMS} "
                     "where photos is not null and photos <> '[]'")
    assessed = set(wh.read(f"select claim_number, sha256 from {PHOTO_QUALITY}").itertuples(index=False, name=None))
    pending = pd.DataFrame(
        [(c.claim_number, c.incident_date, sha) for c in claims.itertuples(index=False)
         for sha in dict.fromkeys(json.loads(c.photos)) if (c.claim_number, sha) not in assessed],
        columns=["claim_number", "incident_date", "sha256"],
    )
    now = utc_naive()
    rows, unreadable = [], 0
    for r in pending.itertuples(index=False):
        incident = r.incident_date.date() if isinstance(r.incident_date, pd.Timestamp) else r.incident_date
        try:
            q = assess_photo(store.get(r.sha256), incident_date=None if pd.isna(incident) else incident)
            rows.append(_row(r.claim_number, q, now, context.run.run_id))
        except (PhotoError, FileNotFoundError) as err:
            unreadable += 1
            rows.append({"claim_number": r.claim_number, "sha256": r.sha256, "score": 0.0, "verdict": "unreadable",
                         "reasons": json.dumps([str(err).splitlines()[0]]), "phash": None, "reused_in": "[]",
                         "quality": None, "assessed_at": now, "run_id": context.run.run_id})
    with wh.transaction() as con:
        wh.upsert(con, PHOTO_QUALITY, pd.DataFrame(rows))
        # Re-use is a property of the whole book of photos, so it is recomputed over all of them.
        known = con.execute(
            f"select claim_number, quality from {PHOTO_QUALITY} where quality is not null"
        ).fetchall()
        pairs = find_reused((c, PhotoQuality(**json.loads(q))) for c, q in known)
        reused: dict[tuple[str, str], set[str]] = {}
        for p in pairs:
            reused.setdefault((p.claim_a, p.sha_a), set()).add(p.claim_b)
            reused.setdefault((p.claim_b, p.sha_b), set()).add(p.claim_a)
        con.execute(f"update {PHOTO_QUALITY} set reused_in = '[]'").fetchall()
        for (claim, sha), others in reused.items():
            con.execute(
                f"update {PHOTO_QUALITY} set reused_in = ? where claim_number = ? and sha256 = ?",
                [json.dumps(sorted(others)), claim, sha],
            ).fetchall()
    verdicts = pd.Series([r["verdict"] for r in rows]).value_counts().to_dict() if rows else {}
    return dg.MaterializeResult(
        metadata={
            "photos_assessed": len(rows),
            "verdicts_this_run": dg.MetadataValue.json(verdicts),
            "unreadable": unreadable,
            "reused_pairs": len(pairs),
            "claims_with_reused_photos": len({c for c, _ in reused}),
        }
    )


def _row(claim_number: str, q: PhotoQuality, now: datetime, run_id: str) -> dict:
    return {
        "claim_number": claim_number,
        "sha256": q.sha256,
        "score": q.score,
        "verdict": q.verdict,
        "reasons": json.dumps(q.reasons),
        "phash": q.phash,
        "reused_in": "[]",
        "quality": json.dumps(q.to_dict()),
        "assessed_at": now,
        "run_id": run_id,
    }
