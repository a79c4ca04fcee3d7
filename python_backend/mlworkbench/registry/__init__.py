"""The model registry: registered models, versions and aliases."""
