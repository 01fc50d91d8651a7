"""The benchmark runner: real gunicorn on each engine, driven by an async HTTP client.

`python -m bench.run` (or `make bench`) is the entry point; docs/bench.md
describes the scenarios, the report and how to add a scenario.
"""
