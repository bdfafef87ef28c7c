"""Asset group names: one per domain, defined once."""

CLAIMS = "claims"
TRAINING = "training"
SERVING = "serving"
MONITORING = "monitoring"
SOCIAL = "social"
