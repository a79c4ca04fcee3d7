"""Differential privacy: a per-data-set epsilon ledger in MLflow, DP queries, DP synthetic data
and DP training, all on OpenDP (or Opacus for training) so no noise is hand-rolled here."""
