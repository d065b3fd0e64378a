"""Benchmarks with targets (issue #5): ``python -m bench`` / ``make bench``.

One module per scenario family: ``parse`` (1, 2), ``scheduler`` (3, 4), ``validation`` (5),
``hook`` (6), ``claim`` (7); ``twin`` writes the no-op twin DAG, ``common`` holds what they share.
Every figure is a ratio to a baseline measured in the same run, because this machine is noisy.
"""
