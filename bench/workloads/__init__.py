"""The registered workloads, in report order. A workload is one module exposing ``WORKLOAD``
(a :class:`bench.harness.Workload`)."""

from bench.workloads import w1_scalar, w2_gelu, w3_mlp, w4_cnn, w5_transformer

WORKLOADS = [w1_scalar.WORKLOAD, w2_gelu.WORKLOAD, w3_mlp.WORKLOAD, w4_cnn.WORKLOAD, w5_transformer.WORKLOAD]
