"""The run explorer: pages, filters, details, artifacts, edits and comparisons of tracked runs."""
