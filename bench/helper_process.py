"""Run one of the bench's helper modules in a site's environment and read what it wrote.

`bench.queries` and `bench.statements` run inside Django with the site's
settings and database, in a subprocess of their own, and write their
results as JSON to the file named by `--out`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import ROOT


@dataclass
class HelperRun:
    returncode: int | None
    output: str          # stdout and stderr, interleaved
    result: Any | None   # the JSON the module wrote; None if it wrote nothing
    seconds: float


async def run_helper(module: str, args: Sequence[str] = (), *, env: dict[str, str],
                     workdir: Path, timeout: float) -> HelperRun:
    """Run `python -m <module> --out FILE <args>` from the project root; return what it wrote.

    The subprocess is killed by its PID if it outlives `timeout` or the
    caller is cancelled; the result file is removed once read.
    """
    out = workdir / f"{module.rpartition('.')[2]}-{secrets.token_hex(4)}.json"
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, "--out", str(out), *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    seconds = time.perf_counter() - started
    result = None
    if out.exists():
        result = json.loads(out.read_text())
        out.unlink()
    return HelperRun(returncode=process.returncode, output=output.decode(errors="replace"),
                     result=result, seconds=seconds)
