"""ML Workbench's library: everything the editor and the CLI do lives here.

Kept import-free on purpose so that `mlworkbench --version` and the language server's start-up
never pay for more than they use; import the submodule you need
(`mlworkbench.analysis.script_analysis`).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
