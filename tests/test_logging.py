"""Each log record is written once, in the project's format, by the configured logging."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# A fresh interpreter: django.setup() applies Django's defaults, then settings.LOGGING.
SCRIPT = """
import logging
import django

django.setup()
logging.getLogger("django.request").warning("Not Found: /nowhere")
logging.getLogger("strategies").warning("a project warning")
logging.getLogger("django.server").warning("a server line")
"""


@pytest.mark.parametrize("debug", ["true", "false"])
def test_every_warning_is_logged_once_and_formatted(debug):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gamification.settings",
        "DEBUG": debug,
        "DATABASE_URL": "",
        "LOG_LEVEL": "INFO",
    }
    if debug == "false":
        env.setdefault("SECRET_KEY", "a-key-for-this-test-only-" + "x" * 40)
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = run.stderr.splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "WARNING django.request Not Found: /nowhere",
        "WARNING strategies a project warning",
        "WARNING django.server a server line",
    ]
    assert run.stdout == ""
