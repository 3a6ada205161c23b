"""Test support: the real test registry harness and its token server."""
