"""The process helpers of the harness: CPU time read from /proc."""

from __future__ import annotations

import os

from harness.processes import cpu_seconds


def test_cpu_seconds_of_a_live_process_is_positive_and_of_a_gone_one_zero():
    sum(range(2_000_000))  # burn a few clock ticks
    assert cpu_seconds(os.getpid()) > 0
    assert cpu_seconds(2**22 + 12345) == 0.0
