"""gunicorn.conf.py loads into gunicorn's own configuration and reads its environment."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"


def _loaded(monkeypatch, **environ: str) -> Config:
    for name in ("GUNICORN_ACCESS_LOG", "GUNICORN_REUSE_PORT", "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    namespace = runpy.run_path(str(CONF))
    config = Config()
    for name, value in namespace.items():
        if name in config.settings:
            config.set(name, value)
    return config


def test_defaults_give_each_worker_its_own_socket_and_an_access_log(monkeypatch):
    config = _loaded(monkeypatch)

    assert config.worker_class_str == "gthread"
    assert config.reuse_port is True
    assert config.threads == 4
    assert config.accesslog == "-"
    assert Logger(config).access_log_enabled is True


@pytest.mark.parametrize("value", ["off", "OFF", "none", "0", "false"])
def test_access_log_off_leaves_gunicorn_nothing_to_format(monkeypatch, value):
    config = _loaded(monkeypatch, GUNICORN_ACCESS_LOG=value)

    assert config.accesslog is None
    assert Logger(config).access_log_enabled is False


def test_access_log_to_a_file_and_one_shared_socket(monkeypatch, tmp_path):
    log = tmp_path / "access.log"

    config = _loaded(monkeypatch, GUNICORN_ACCESS_LOG=str(log), GUNICORN_REUSE_PORT="0")

    assert config.accesslog == str(log)
    assert config.reuse_port is False


def test_a_malformed_switch_stops_the_start(monkeypatch):
    with pytest.raises(SystemExit, match="GUNICORN_REUSE_PORT must be a boolean"):
        _loaded(monkeypatch, GUNICORN_REUSE_PORT="maybe")
