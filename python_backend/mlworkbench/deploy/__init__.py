"""Deploy: serve a model over HTTP (`serving_*`, `model_source`) and ship it as a container.

Kept import-free, like the package above it: `mlworkbench serve` and the language server import
only the submodule they need.
"""
