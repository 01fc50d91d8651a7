"""The benchmark: real gunicorn on each engine, driven by an async HTTP client.

`python -m bench` (or `make bench`) runs it; docs/bench.md describes the
scenarios, the table and how to add a scenario. It imports nothing of
`tests`: it starts its servers with `harness` (the .importlinter contracts).

- `cli`: the command line; runs each engine, prints the table, writes
  results.json and results.png;
- `rounds`: the plan on one engine: setups, scenarios, comparisons round
  by round, special measures, each isolated;
- `running_site`: what a scenario is handed: the site under gunicorn on one
  engine, its variants (other settings, same database) and siblings;
- `engines`: the storage set-ups, each provisioned on a fresh database
  (`prepare` migrates it in the engine's environment; `dbtools` loads and
  checks it with the plain driver);
- `registry` and `scenarios/`: what can run, with targets and verdicts;
- `load` and `auth`: the load generator and how it authenticates;
- `measurements`, `stats`, `table`, `plot`: the numbers, their spreads,
  the Markdown table and results.json, the PNG;
- `queries`, `statements`, `helper_process`: helpers that run inside
  Django in a subprocess (statement counts, the longest statement);
- `memory`: the memory of `make run`; `tools/`: one-off investigations.
"""
