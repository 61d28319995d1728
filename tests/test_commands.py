from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from gamification.models import ApiKey, Game, Realm, Task

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_create_api_key_creates_the_realm_and_prints_a_working_key_last():
    out = io.StringIO()

    call_command(
        "create_api_key", realm="newrealm", name="server", stdout=out, stderr=io.StringIO()
    )

    raw_key = out.getvalue().strip().splitlines()[-1]
    assert Realm.objects.filter(slug="newrealm").exists()
    assert ApiKey.objects.get(realm__slug="newrealm").name == "server"
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw_key)
    assert client.get("/api/v1/games").status_code == 200


@pytest.mark.django_db
def test_create_api_key_rejects_a_bad_slug():
    with pytest.raises(CommandError, match="slug"):
        call_command(
            "create_api_key", realm="not a slug", stdout=io.StringIO(), stderr=io.StringIO()
        )


@pytest.mark.django_db
def test_seed_demo_is_idempotent(tmp_path):
    key_file = tmp_path / "key"
    for _ in range(2):
        call_command("seed_demo", key_file=str(key_file), stdout=io.StringIO())

    assert Realm.objects.filter(slug="demo").count() == 1
    assert Game.objects.filter(external_game_id="demo-game").count() == 1
    assert set(Task.objects.values_list("strategy_id", flat=True)) >= {"default", "constant_effort"}
    assert ApiKey.objects.filter(realm__slug="demo").count() == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [("DSL_MAX_NODES", "many"), ("DSL_EXECUTION_LOG_SAMPLE_RATE", "1.5"), ("DEBUG", "maybe")],
)
def test_malformed_settings_fail_at_start_naming_the_variable(name, value):
    env = {"PATH": "/usr/bin:/bin", "SECRET_KEY": "x", name: value}
    completed = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert completed.returncode != 0
    assert name in completed.stderr


def test_secret_key_is_required_without_debug():
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "false"}
    completed = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert completed.returncode != 0
    assert "SECRET_KEY" in completed.stderr
