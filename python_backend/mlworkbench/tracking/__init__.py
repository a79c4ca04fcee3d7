"""Access to MLflow tracking stores: opening them safely, the token's scope, what may touch
the network, and folders only this user can write to."""
