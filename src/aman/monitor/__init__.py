"""aman.monitor: anomaly detection, alerts, automatic throttling/quarantine, fraud reports,
and the security self-assessment (``aman report security``).

The platform reports events to a ``Monitor`` on its hot paths (cheap, in memory);
detectors raise findings, which become deduplicated alerts written in batches,
pushed to a signed webhook, and optionally answered by throttling or quarantining
the contact.  Staff act on alerts, controls and fraud reports through
``Monitor.alerts``, ``Monitor.controls`` and ``Monitor.fraud`` (all audited).
"""

from aman.monitor.config import MonitorSettings
from aman.monitor.controls import Control
from aman.monitor.errors import (
    AlertNotFoundError,
    ControlError,
    InvalidAlertTransitionError,
    MonitorConfigError,
    MonitorError,
    MonitorInputError,
    UnknownTenantError,
)
from aman.monitor.findings import KINDS, SEVERITIES, Finding
from aman.monitor.monitor import Monitor
from aman.monitor.push import sign_body, verify_push_signature
from aman.monitor.repository import Alert
from aman.monitor.services import AlertService, ControlService, FraudReport, FraudReportService

__all__ = [
    "KINDS",
    "SEVERITIES",
    "Alert",
    "AlertNotFoundError",
    "AlertService",
    "Control",
    "ControlError",
    "ControlService",
    "Finding",
    "FraudReport",
    "FraudReportService",
    "InvalidAlertTransitionError",
    "Monitor",
    "MonitorConfigError",
    "MonitorError",
    "MonitorInputError",
    "MonitorSettings",
    "UnknownTenantError",
    "sign_body",
    "verify_push_signature",
]
