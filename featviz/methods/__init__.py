"""What featviz does with a model, one workflow per module: activations, accentuation, directions,
diverse patterns, and trust (docs/architecture.md)."""
