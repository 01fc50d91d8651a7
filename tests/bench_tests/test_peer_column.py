"""The peer column on PostgreSQL + Redis: ours and drf-idempotency 1.0.0 side by side, smoke-sized.

`python -m bench --smoke --only peer_column --engines postgres-redis` with
real gunicorn servers of the lab (bench/peer_lab/), so that theirs keeps
running as ours changes. Needs the suite's PostgreSQL and Redis
(DATABASE_URL, REDIS_URL) and drf-idempotency (requirements-bench.txt);
the bench's databases are the test database's name plus `_bench_peer`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

pytestmark = [pytest.mark.live, pytest.mark.bench]

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 240
SMOKE_ROUNDS = 2
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")

needs = pytest.mark.skipif(
    not (DATABASE_URL.startswith("postgres") and REDIS_URL
         and importlib.util.find_spec("drf_idempotency")),
    reason="needs DATABASE_URL=postgres://..., REDIS_URL and drf-idempotency "
           "(requirements-bench.txt)")


def _bench_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_bench_peer"))


@pytest.fixture(scope="module")
def peer(tmp_path_factory) -> tuple[str, dict]:
    out = tmp_path_factory.mktemp("bench-peer")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    argv = [sys.executable, "-m", "bench", "--smoke", "--only", "peer_column",
            "--engines", "postgres-redis", "--pg-url", _bench_url(DATABASE_URL),
            "--redis-url", REDIS_URL, "--out", str(out), "--no-plot"]
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=TIMEOUT_SECONDS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout, json.loads((out / "results.json").read_text())


@needs
def test_ours_and_theirs_run_side_by_side_in_one_run(peer):
    stdout, document = peer
    assert document["errors"] == []
    [engine] = document["engines"]
    special = engine["specials"]["peer_column"]
    assert special["error"] is None
    by_metric = {(r["detail"]["side"], r["detail"]["metric"]): r for r in special["rows"]}
    for side in ("drf", "ours", "ours_db"):
        for metric in ("fresh_ratio", "added_p50_ms", "replay_ratio"):
            rounds = by_metric[(side, metric)]["detail"]["rounds"]
            assert len(rounds) == SMOKE_ROUNDS
            assert by_metric[(side, metric)]["value"] == pytest.approx(statistics.median(rounds))
        assert by_metric[(side, "fresh_ratio")]["value"] > 0
        # A replay of any side is answered from what the first request stored.
        assert by_metric[(side, "replay_ratio")]["value"] > 0
    aa = by_metric[("control", "aa")]
    noise = max(abs(v - 1) for v in aa["detail"]["rounds"])
    for side in ("ours", "ours_db"):
        versus = by_metric[(side, "ours_over_theirs")]
        expected = [o / t for o, t in zip(by_metric[(side, "fresh_ratio")]["detail"]["rounds"],
                                          by_metric[("drf", "fresh_ratio")]["detail"]["rounds"])]
        assert versus["detail"]["rounds"] == pytest.approx(expected)
        assert versus["target"]["value"] == pytest.approx(1 + noise, abs=1e-3)
    table = document["peer_markdown"]
    assert "| | drf-idempotency 1.0.0 | ours (Redis fast path where Redis) | ours, database path |" in table
    assert table in stdout
