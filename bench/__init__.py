"""Benchmarks that print ratios against a baseline measured in the same run.

Run `python -m bench --size smoke|medium|large`; see bench/README.md.
"""
