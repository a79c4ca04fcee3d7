"""Script analysis: what a training script is (frameworks, parameters, entry point), read
with `ast` only: nothing of the script runs."""
