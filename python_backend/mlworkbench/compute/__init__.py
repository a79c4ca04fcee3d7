"""Compute: running many tracked runs of one script, e.g. a hyper-parameter sweep."""
