"""The review and approval workspace: `create_app(WebConfig)` (see `app.py`), started by `claimflow web`."""
