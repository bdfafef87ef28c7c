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
