"""The roles people hold in Claimflow: a module with no imports, so the CLI's parser can name them cheaply."""

HANDLER, REVIEWER, RISK_OFFICER, ADMIN = "handler", "reviewer", "risk_officer", "admin"
ROLES: tuple[str, ...] = (HANDLER, REVIEWER, RISK_OFFICER, ADMIN)
