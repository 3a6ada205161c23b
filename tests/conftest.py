"""The shared fixtures are one plugin, tests/support/fixtures.py: registries, databases, kube."""

pytest_plugins = ["tests.support.fixtures"]
