"""`claimflow web`: the review and approval workspace on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

from orchestration.commands import CliError


def cmd_web(args) -> int:
    import logging

    import uvicorn

    from orchestration.settings import settings
    from orchestration.web.app import WebConfig, create_app

    port = args.port or settings().web_port
    app = create_app(WebConfig.from_settings())
    if not app.state.identity.list_users():
        raise CliError("no users yet: create the first admin with `claimflow users add NAME --role admin` "
                       "(the demo creates demo users)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(f"Workspace   http://127.0.0.1:{port}  (review queue, model approvals, monitoring, audit)", flush=True)
    # Access logs carry the query string; ours (orchestration.web) carry paths and status only.
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")
    return 0


def register(sub) -> None:
    """Add `web` to the top-level sub-parsers."""
    p = sub.add_parser("web", help="the review and approval workspace on loopback (port CLAIMFLOW_WEB_PORT, 8090)")
    p.add_argument("--port", type=int, help="default: CLAIMFLOW_WEB_PORT (8090)")
    p.set_defaults(func=cmd_web)
