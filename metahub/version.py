"""The version, on its own: the lowest layer may name it without importing the package."""

__version__ = "0.1.0"
