"""Benchmarks of the albums service: `python -m bench` (or `make bench`). See README.md."""
