import json

import dagster as dg

from assets.resources import InboxResource
from connectors.inbox import MaildirInbox
from orchestration.automation import claims_inbox_sensor, plan_batches


def test_batches_keep_arrival_order_and_respect_the_size():
    keys = [f"m{i}" for i in range(1203)]
    batches = plan_batches(keys, 500)
    assert [len(b) for b in batches] == [500, 500, 203]
    assert [k for b in batches for k in b] == keys


def test_the_sensor_groups_new_mail_into_micro_batches_and_never_requests_a_file_twice(tmp_path):
    inbox = MaildirInbox(tmp_path / "inbox")
    inbox.ensure()
    for i in range(7):
        inbox.deliver(f"From: a@b.c\nSubject: {i}\n\nbody {i}\n".encode(), name=f"m{i}.eml")
    resource = InboxResource(root=str(tmp_path / "inbox"))
    ctx = dg.build_sensor_context(resources={"inbox": resource})
    first = list(claims_inbox_sensor(ctx))
    assert len(first) == 1 and isinstance(first[0], dg.RunRequest)
    assert len(first[0].run_config["ops"]["claim_emails"]["config"]["inbox_keys"]) == 7

    ctx2 = dg.build_sensor_context(cursor=ctx.cursor, resources={"inbox": resource})
    again = list(claims_inbox_sensor(ctx2))
    assert again and all(isinstance(r, dg.SkipReason) for r in again)

    inbox.deliver(b"From: a@b.c\nSubject: late\n\nbody\n", name="late.eml")
    ctx3 = dg.build_sensor_context(cursor=ctx2.cursor, resources={"inbox": resource})
    late = [r for r in claims_inbox_sensor(ctx3) if isinstance(r, dg.RunRequest)]
    assert late[0].run_config["ops"]["claim_emails"]["config"]["inbox_keys"] == ["late.eml"]
    assert json.loads(ctx3.cursor)


def test_the_sensor_holds_new_mail_back_while_the_circuit_to_triton_is_open(tmp_path, monkeypatch):
    import time

    from monitoring import telemetry

    home = tmp_path / "home"
    monkeypatch.setenv("CLAIMFLOW_HOME", str(home))
    inbox = MaildirInbox(tmp_path / "inbox")
    inbox.ensure()
    inbox.deliver(b"From: a@b.c\nSubject: x\n\nbody\n", name="m.eml")
    (telemetry.telemetry_dir(home)).mkdir(parents=True)
    span = {"kind": "outside_call", "system": "triton", "status": "error", "end_ns": time.time_ns(),
            "attributes": json.dumps({"claimflow.circuit": "open"})}
    (telemetry.telemetry_dir(home) / telemetry.SPANS_FILE).write_text(json.dumps(span) + "\n")
    resource = InboxResource(root=str(tmp_path / "inbox"))
    ctx = dg.build_sensor_context(resources={"inbox": resource})
    held = list(claims_inbox_sensor(ctx))
    assert len(held) == 1 and isinstance(held[0], dg.SkipReason) and "circuit to triton is open" in held[0].skip_message
    assert not ctx.cursor  # nothing marked requested: the mail is taken once the circuit closes

    span["attributes"] = json.dumps({"claimflow.circuit": "closed"})
    with open(telemetry.telemetry_dir(home) / telemetry.SPANS_FILE, "a") as fh:
        fh.write(json.dumps(span) + "\n")
    ctx = dg.build_sensor_context(resources={"inbox": resource})
    assert any(isinstance(r, dg.RunRequest) for r in claims_inbox_sensor(ctx))


def test_the_sensor_waits_while_the_limit_of_runs_in_flight_is_reached(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CLAIMFLOW_MAX_RUNS_IN_FLIGHT", "1")
    inbox = MaildirInbox(tmp_path / "inbox")
    inbox.ensure()
    for i in range(3):
        inbox.deliver(f"From: a@b.c\nSubject: {i}\n\nbody\n".encode(), name=f"m{i}.eml")
    resource = InboxResource(root=str(tmp_path / "inbox"))
    with dg.instance_for_test() as instance:
        instance.add_run(dg.DagsterRun(job_name="claims_flow", run_id="r1", status=dg.DagsterRunStatus.STARTED))
        ctx = dg.build_sensor_context(instance=instance, resources={"inbox": resource})
        out = list(claims_inbox_sensor(ctx))
        assert len(out) == 1 and "1 claims runs in flight (limit 1)" in out[0].skip_message
        instance.report_run_failed(instance.get_run_by_id("r1"))  # the run ends: the next tick takes the mail
        ctx = dg.build_sensor_context(instance=instance, resources={"inbox": resource})
        assert len([r for r in claims_inbox_sensor(ctx) if isinstance(r, dg.RunRequest)]) == 1
