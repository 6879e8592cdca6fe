"""Layer 0: tables and per-thread state (backend registry, dtypes, promotion tables, pytrees,
modes, kernel declarations). Imports nothing else of agrad."""
