"""Layer 4: function transformations: grad, vjp, jvp, Jacobians and Hessians, custom rules,
checkpointing."""
