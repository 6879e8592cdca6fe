"""Layer 4: training state: seeding, safetensors checkpoints, materialising lazy tensors."""
