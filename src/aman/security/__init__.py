"""aman.security package."""
