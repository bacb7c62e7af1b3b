"""Operator accounts and API security: tenants, staff users, 2FA, sessions, API tokens, roles.

Start with :class:`aman.accounts.service.Accounts` (one object bundling every
service) and :func:`aman.accounts.scope.scoped` for tenant-filtered queries.
"""
