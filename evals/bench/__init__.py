"""Benchmarks: each ``bench_<name>.py`` module registers ``ehr-agent bench <name>``.

A module provides ``register(bench_sub)``, adding its subparser (with ``--out DIR``), and
keeps heavy imports inside its handler so that ``ehr-agent --help`` stays fast. Results
are printed and written to ``--out`` as ``<name>.json`` and ``<name>.md``.
"""

__all__: list[str] = []
