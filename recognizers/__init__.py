"""Gait recognizers used as black-box attackers. Each is declared in ``benchmark.registry.RECOGNIZERS`` below."""
