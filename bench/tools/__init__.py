"""One-off investigation tools: not part of `make bench`; docs/bench.md records what they found."""
