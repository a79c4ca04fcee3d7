"""Code that runs inside the training script's own process, next to the user's code.

These modules import only the standard library at top (mlflow inside functions) and use
relative imports only: `bootstrap.py` loads this folder by path under a private name, because
the interpreter that runs a script (the user's) may have mlflow but not mlworkbench installed.
The launcher in the parent process imports the same modules as `mlworkbench.launch.child`.
"""
