"""What featviz does with a model, one workflow per module: activations, accentuation, directions,
diverse patterns, trust, and the activation atlas (docs/architecture.md)."""
