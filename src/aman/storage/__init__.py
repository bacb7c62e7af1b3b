"""aman.storage package."""
