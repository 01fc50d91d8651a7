"""`make run` (gunicorn.conf.py) on a taken port fails at once and names TAOS_BIND."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from harness.processes import ROOT
from tests.support.live_env import live_env

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_a_taken_port_names_the_setting_that_moves_it(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = live_env({"TAOS_BIND": f"127.0.0.1:{port}", "TAOS_DEPLOY_WORKERS": "0",
                        "TAOS_WORKERS": "1"})
        done = subprocess.run([sys.executable, "-m", "gunicorn", "-c",
                               str(ROOT / "gunicorn.conf.py")], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
    said = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"127.0.0.1:{port} is already in use" in said
    assert "TAOS_BIND" in said
    assert "Connection in use" not in said  # no five seconds of retries first
