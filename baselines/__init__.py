"""Anonymization methods. Each is declared in ``benchmark.registry.ANONYMIZERS`` below."""
