"""Contacts: customers known by blind index, identity encrypted."""
