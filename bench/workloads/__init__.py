"""The registered workloads, in report order. A workload is one module exposing ``WORKLOAD``
(a :class:`bench.harness.Workload`); add W3 (MLP Adam step), W4 (CNN SGD step), W5
(Transformer block) as new modules and list them here."""

from bench.workloads import w1_scalar, w2_gelu

WORKLOADS = [w1_scalar.WORKLOAD, w2_gelu.WORKLOAD]
