"""The layers of ``agrad.nn``, one small module per family."""
