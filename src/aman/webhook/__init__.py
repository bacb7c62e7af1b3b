"""aman.webhook package."""
