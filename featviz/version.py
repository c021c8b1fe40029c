"""featviz's version: one place, read by the package, the manifests and the pages."""

__version__ = "0.7.0"
