"""Check definitions (``public/`` and ``hidden/``), their registry, comparisons and runner."""
