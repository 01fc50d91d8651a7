"""`python -m bench [flags]`: run the benchmark (the command line is bench/cli.py)."""

from __future__ import annotations

import sys

from bench.cli import main

sys.exit(main())
