"""The bench's gunicorn: the shared launcher of tests/support/gunicorn.py, and the CPU it used."""

from __future__ import annotations

import os

from tests.support.gunicorn import GunicornServer
from tests.support.processes import stat_fields


def _cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time `pid` has used so far (0 if it is gone)."""
    fields = stat_fields(pid)
    if fields is None:
        return 0.0
    # Fields 14 and 15: utime and stime, in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BenchServer(GunicornServer):
    """A gunicorn master whose CPU time, workers included, the rounds are charged."""

    def cpu_seconds(self) -> float:
        """Return the CPU time the master and its workers have used so far.

        Unlike throughput, CPU time per request hardly moves when other
        processes compete for the cores, so it is reported beside it. The
        database and Redis servers are not included.
        """
        if self.process is None:
            return 0.0
        return sum(_cpu_seconds(pid) for pid in [self.process.pid, *self.worker_pids()])
