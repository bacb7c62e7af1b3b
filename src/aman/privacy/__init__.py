"""Customers' data rights under UU PDP: export, erasure (crypto-shredding), objection, retention."""

from aman.privacy.policy import RetentionPolicy
from aman.privacy.retention import RetentionReport, purge
from aman.privacy.rights import DataRights, ErasureReport, PrivacyError

__all__ = [
    "DataRights",
    "ErasureReport",
    "PrivacyError",
    "RetentionPolicy",
    "RetentionReport",
    "purge",
]
