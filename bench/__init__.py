"""Benchmarks of the event store and the relay (see bench/README.md)."""
