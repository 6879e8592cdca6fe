"""Layer 2: the operations, one module per chapter of the Array API standard (plus the
extension primitives the rules call as ``xp.<name>``: scatter-add, einsum, complex parts)."""
