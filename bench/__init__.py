"""Benchmarks of saferoom's hot paths. ``make bench`` (``python -m bench``) prints one table.

Each benchmark is a function in :data:`bench.benchmarks.BENCHMARKS` that takes the prepared
:class:`bench.scenario.World` and returns table rows; later issues add functions there."""
