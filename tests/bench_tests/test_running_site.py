"""open_site() serves a fresh database under gunicorn; a sibling has its own; a variant shares."""

from __future__ import annotations

import asyncio
import os

import pytest

from bench.config import RunConfig
from bench.engines import ENGINES
from bench.running_site import _with_database_suffix, open_site

pytestmark = [pytest.mark.live, pytest.mark.bench]


def test_a_sibling_has_its_own_database_a_variant_shares_it_and_all_stop_on_exit(
        tmp_path, monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    config = RunConfig().smoke_sized()

    async def main():
        async with open_site(ENGINES["sqlite"], config=config, workdir=tmp_path / "a",
                             run_id="t1", live_settings=False) as site:
            hooks = await site.with_live_settings()
            assert await site.with_live_settings() is hooks  # started once
            async with site.sibling() as other:
                async with site.client() as client, other.client() as other_client, \
                        hooks.client() as hooks_client:
                    made = await client.post("/api/agents/", json={"display_name": "Only Here"})
                    here = await client.get("/api/agents/only-here/")
                    there = await other_client.get("/api/agents/only-here/")
                    variant = await hooks_client.get("/api/agents/only-here/")
                servers = [site.server, other.server, hooks.server]
                paths = {site.database.path, other.database.path, hooks.database.path}
                facts = {
                    "hooks env": (site.env.get("DJANGO_SETTINGS_MODULE"),
                              hooks.env["DJANGO_SETTINGS_MODULE"]),
                    "variant url differs": hooks.url != site.url,
                    "cpu counts the variant": site.cpu_seconds() >= hooks.server.cpu_seconds() > 0,
                }
        return (made.status_code, here.status_code, there.status_code, variant.status_code,
                servers, paths, facts)

    made, here, there, variant, servers, paths, facts = asyncio.run(main())
    assert (made, here, there, variant) == (201, 200, 404, 200)
    assert len(paths) == 2
    assert facts == {"hooks env": (None, "harness.live_settings"), "variant url differs": True,
                     "cpu counts the variant": True}
    for server in servers:
        assert server.process.poll() is not None
        for pid in server._worker_pids:
            assert not os.path.exists(f"/proc/{pid}/cmdline") or b"gunicorn" not in open(
                f"/proc/{pid}/cmdline", "rb").read()


def test_a_sibling_postgres_database_gets_a_suffixed_name():
    assert (_with_database_suffix("postgres://root@127.0.0.1:5432/taos_bench_run", "_s1")
            == "postgres://root@127.0.0.1:5432/taos_bench_run_s1")
