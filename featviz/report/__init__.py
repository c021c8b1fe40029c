"""Reports: the gallery site and model comparisons. The modules are mapped in docs/architecture.md."""
