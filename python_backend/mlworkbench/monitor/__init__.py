"""The MLflow UI and TensorBoard servers, private to this user behind a loopback gate."""
