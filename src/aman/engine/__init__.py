"""aman.engine package."""
