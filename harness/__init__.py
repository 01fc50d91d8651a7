"""Start and stop real processes of the site, for the tests and the bench.

Free ports, gunicorn masters, waiting and stopping by PID
(`harness.processes`, `harness.gunicorn`), and the test-only settings those
servers run with (`DJANGO_SETTINGS_MODULE=harness.live_settings`, with
`harness.live_urls`, `harness.live_views` and `harness.counting_hasher`).

Nothing of the product imports this package, and it imports nothing of
`tests` or `bench` (the .importlinter contracts): the production settings
never reach it, and the bench runs without the test suite.
"""
