"""Signals of deploy jobs, for whoever counts them (the metrics app).

- `job_finished`: a deploy job ran an attempt it claimed, with `state=` the
  state it wrote (a DeployTask state, or "discarded" when the attempt no
  longer owned its task), `backend=` DEPLOY_BACKEND ("none" when unset) and
  `seconds=` how long the attempt ran.
- `stale_marked`: the stale sweep failed a deploy whose job died, with
  `state=` the state it was stale in (queued or running).
"""

from __future__ import annotations

from django.dispatch import Signal

job_finished = Signal()
stale_marked = Signal()
