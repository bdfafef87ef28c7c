"""`claimflow demo`: seed, generate an inbox, run the claims flow end to end, print where to look."""

from __future__ import annotations


def cmd_demo(args) -> int:
    """The whole flow on sample data; runs are tagged as launched by the demo."""
    from orchestration.runner import run_demo, set_launcher

    set_launcher("claimflow-demo")
    return run_demo(count=args.count, seed=args.seed)


def register(sub) -> None:
    """Add `demo` to the top-level sub-parsers."""
    d = sub.add_parser("demo", help="seed, generate an inbox, run the claims flow, print a summary")
    d.add_argument("--count", type=int, default=500)
    d.add_argument("--seed", type=int, default=7)
    d.set_defaults(func=cmd_demo)
