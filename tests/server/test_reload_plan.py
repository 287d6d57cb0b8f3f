"""Which changed keys a SIGHUP applies and which need a restart (names only, never values)."""

from __future__ import annotations

from pydantic import SecretStr

from gateway.auth.clients import ClientConfig, WebhookTarget
from gateway.config import load_settings
from gateway.server import plan_reload


def test_clients_log_level_and_tls_files_are_applied_the_rest_needs_a_restart() -> None:
    old = load_settings(None)
    client = old.clients[0]
    webhook = WebhookTarget(url="http://127.0.0.1:1/w", secrets=[SecretStr("whsec_x")])
    changed = client.model_copy(
        update={
            "secrets": [*client.secrets, SecretStr("second-secret")],
            "operations": ["citizens.verify"],
            "rate_per_second": 1.0,
            "webhook": webhook,
        }
    )
    added = ClientConfig(id="new-client", secrets=[SecretStr("s")], operations=["businesses.read"])
    new = old.model_copy(
        update={
            "clients": [changed, *old.clients[1:], added],
            "logging": old.logging.model_copy(update={"level": "DEBUG"}),
            "tls": old.tls.model_copy(update={"cert_file": old.tls.cert_file.with_name("x.pem")}),
            "server": old.server.model_copy(update={"max_body_bytes": 10}),
        }
    )
    plan = plan_reload(old, new)
    assert f"clients[{client.id}].secrets" in plan.applied
    assert f"clients[{client.id}].operations" in plan.applied
    assert f"clients[{client.id}].rate_per_second" in plan.applied
    assert "clients[new-client].secrets" in plan.applied
    assert "logging.level" in plan.applied
    assert "tls.cert_file" in plan.applied
    assert "server.max_body_bytes" in plan.restart_required
    assert f"clients[{client.id}].webhook.url" in plan.restart_required
    assert f"clients[{client.id}].webhook.secrets" in plan.restart_required
    assert not set(plan.applied) & set(plan.restart_required)
    assert plan_reload(old, old).applied == []
    assert plan_reload(old, old).restart_required == []
    assert "second-secret" not in repr(plan)
