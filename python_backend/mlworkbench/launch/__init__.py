"""Tracked training runs: a script launched in its own process group inside one MLflow run.

`launcher` is the API the CLI and the language server call; `child/` is what runs inside the
script's process. Nothing here imports mlflow at module top, so importing the package is cheap.
"""
