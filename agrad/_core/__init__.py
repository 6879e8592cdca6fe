"""Layer 1: the autodiff machinery: Tensor data, Primitive, the reverse-mode engine, forward mode,
hooks and anomaly detection. Knows no operation by name."""
