"""agrad's benchmark suite: ``python -m bench`` (see ``bench/run.py`` for the options).

Workloads run side by side on agrad (any backend, ``--backend``, default numpy) and PyTorch, in
one process pinned to one thread, with identical inputs; their results are cross-checked so a
fast wrong answer fails the run. Peak memory is measured in a fresh subprocess per workload and
framework. Results go to a markdown file (``bench/RESULTS.md``) that the README includes.
"""
