"""The registered scenarios, comparisons and special measures of `make bench`.

Importing this package registers them; registration order is run order
(within each kind: scenarios, comparisons, specials). One module per part
of the control plane:

- `agents`: the plain create and read every comparison is measured against,
  and reference items that the default run leaves out (`--all` runs them);
- `idempotency`: keyed creates, replays (Redis and database paths), the
  64-request same-key race;
- `peer`: the peer column, ours beside drf-idempotency on one lab view (bench/peer_lab/);
- `tokens`: agent token vs session, authentication queries, the 64-request
  token issue race;
- `fair_waiting`: a 64-way same-key storm against another client's reads;
  the memory of `make run`;
- `idempotency_table`: the table at 1,000,000 rows vs 1,000, and the purge
  of 1,000,000 expired rows under replay load (last: the slowest);
- `metrics`: fresh-key creates with metrics on and off (TAOS_METRICS).
"""

from __future__ import annotations

# Imported in the order of the table's rows: each part's baseline before what it is compared with.
from bench.scenarios import agents, idempotency, peer, fair_waiting, idempotency_table, tokens  # noqa: F401, I001
from bench.scenarios import metrics  # noqa: F401
