"""Field accuracy of the rule extractor against the generator's ground truth, on a seed no test uses.

Baseline: the ground truth itself (accuracy 1.0). A field counts as right when the
extracted value equals the expected one, None included (a guess where the mail says
nothing is an error too). Goals: >= 0.98 claim and policy number, >= 0.95 incident date,
amount and loss type.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.mail import read_message_file
from connectors.samples.inbox import generate_inbox
from connectors.samples.policies import build_policy_table
from models.extraction import extract_fields

FIELDS = ["claim_number", "policy_number", "incident_date", "estimated_amount", "loss_type", "currency",
          "contact_email", "contact_phone"]
GOALS = {"claim_number": 0.98, "policy_number": 0.98, "incident_date": 0.95, "estimated_amount": 0.95,
         "loss_type": 0.95}
BENCH_SEED = 424242  # never used by a test


def measure(count: int, seed: int, show_errors: int = 0) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mail"
        truth = generate_inbox(count, seed, out, build_policy_table(), now=datetime(2026, 10, 1, 12, tzinfo=UTC))
        right, total = Counter(), Counter()
        errors: dict[str, list] = {f: [] for f in FIELDS}
        t0 = time.perf_counter()
        for rec in truth:
            if rec["expected_quarantine_reason"]:
                continue
            msg = read_message_file(out / rec["file"])
            got = extract_fields(subject=msg.subject, text=msg.text, sender=msg.sender_address, received_at=msg.date)
            got_json = got.model_dump(mode="json")
            for f in FIELDS:
                total[f] += 1
                exp = rec["expected"].get(f)
                if got_json[f] == exp:
                    right[f] += 1
                elif len(errors[f]) < show_errors:
                    errors[f].append((rec["file"], exp, got_json[f], rec["variations"]))
        elapsed = time.perf_counter() - t0
    return {"accuracy": {f: right[f] / total[f] for f in FIELDS}, "mails": total["claim_number"],
            "seconds": elapsed, "errors": errors}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=BENCH_SEED)
    ap.add_argument("--show-errors", type=int, default=0)
    args = ap.parse_args()
    r = measure(args.count, args.seed, args.show_errors)
    print(f"extraction accuracy on {r['mails']} claim mails (seed {args.seed}), "
          f"{r['mails'] / r['seconds']:.0f} mails/s; baseline = ground truth (1.000)")
    ok = True
    for f, acc in r["accuracy"].items():
        goal = GOALS.get(f)
        verdict = "" if goal is None else ("  goal >= %.2f %s" % (goal, "met" if acc >= goal else "MISSED"))
        ok &= goal is None or acc >= goal
        print(f"  {f:<18}{acc:.4f}  ratio to baseline {acc:.3f}{verdict}")
    for f, errs in r["errors"].items():
        for e in errs:
            print(f"  miss {f}: {e}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
