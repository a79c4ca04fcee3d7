"""`python -m mlworkbench` runs the same CLI as the `mlworkbench` console script."""

import sys

from mlworkbench.cli import main

if __name__ == "__main__":
    sys.exit(main())
