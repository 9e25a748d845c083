"""Roster's benchmark: ``python -m bench --quick|--full --out FILE``.

Every figure is reported next to an anchor measured in the same run (see ``bench/README.md``
and ``shared/BENCHMARK.md``): the end-to-end stage posts transition requests over real HTTP to a
running ``roster serve`` and its applied rate is divided by the raw insert limit of the same rows.
"""
