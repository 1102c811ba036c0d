"""Compatibility APIs that let other tools' clients use Griffin unchanged."""
