"""The environment check (`mlworkbench doctor`) behind Set Up Environment."""
