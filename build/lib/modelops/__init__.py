"""modelops: the generic lifecycle machinery (data -> train -> gate -> release -> serve -> monitor)."""

__version__ = "0.1.0"
