"""How TensorFlow runs here: imported lazily and quietly, its threads, this CPU, and orders that do not
depend on the CPU's last bits (docs/architecture.md)."""
