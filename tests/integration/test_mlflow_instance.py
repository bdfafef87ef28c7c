"""A server found on the configured MLflow port is used only if it proves it serves this home's store.

Regression (issue 12, finding 6): a demo on a new home attached to another home's registry
(version 5, no Triton model for version 4) and triage failed with ~100 lines of traceback.
"""

from __future__ import annotations

import pytest

from models.tracking import TrackingServerError, instance_id, served_instance, start_tracking_server

pytestmark = pytest.mark.integration


def test_the_server_of_another_home_is_refused_with_one_line_and_its_own_home_reuses_it(mlflow_server, tmp_path):
    port = int(mlflow_server.url.rsplit(":", 1)[1])
    # The session's server was started for its own root, which it proves.
    assert served_instance(mlflow_server.url) is not None
    with pytest.raises(TrackingServerError) as err:
        start_tracking_server(tmp_path / "other-home" / "mlflow", port=port)
    message = str(err.value)
    assert "\n" not in message and f"port {port} already has an MLflow server" in message
    assert "CLAIMFLOW_MLFLOW_PORT" in message

    root = mlflow_server.log_path.parent
    reused = start_tracking_server(root, port=port)
    assert reused.process is None and served_instance(reused.url) == instance_id(root)
