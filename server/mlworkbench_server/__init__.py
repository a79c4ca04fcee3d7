"""ML Workbench language server: a thin LSP adapter over the `mlworkbench` library."""

__version__ = "0.1.0"
