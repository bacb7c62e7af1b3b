"""aman.campaigns: contacts, segments, templates, scheduling and broadcasts to WhatsApp customers.

Typical wiring (one ``CampaignContext`` per process and tenant)::

    ctx = CampaignContext(engine, vault, audit)
    ContactImporter(ctx).import_file("staff:ani", Path("pelanggan.csv"))
    seg = SegmentService(ctx).create("staff:ani", "vip", {"tag": "vip"})
    cid = CampaignService(ctx).create("staff:ani", name="promo", segment_id=seg.id,
                                      phone_number_id="1065...", template=("promo", "id"),
                                      variables={"body": ["{first_name|Kak}"]})
    CampaignService(ctx).start("staff:ani", cid)
    run_due(engine, vault, time.time(), audit=audit, send_rate=80)   # the scheduler role
    process_template_events(engine, vault, audit=audit)               # likewise
"""

from aman.campaigns.broadcasts import CampaignService, CampaignStatus, RunStatus, derive_status
from aman.campaigns.contacts import ContactBook, ContactView, MergeResult
from aman.campaigns.context import CampaignContext
from aman.campaigns.errors import (
    CampaignError,
    CampaignInputError,
    CampaignNotFoundError,
    CampaignStateError,
    InvalidPhoneNumberError,
    SegmentRuleError,
    TemplateUnusableError,
)
from aman.campaigns.importer import ContactImporter, ImportReport, RowIssue
from aman.campaigns.phone import mask_number, normalize_phone
from aman.campaigns.scheduler import DueReport, fire_schedules, run_due
from aman.campaigns.segments import Segment, SegmentService
from aman.campaigns.settings import TIERS, CampaignSettings, SettingsService
from aman.campaigns.template_events import EventReport, process_template_events
from aman.campaigns.templates import Template, TemplateRegistry

__all__ = [
    "TIERS",
    "CampaignContext",
    "CampaignError",
    "CampaignInputError",
    "CampaignNotFoundError",
    "CampaignService",
    "CampaignSettings",
    "CampaignStateError",
    "CampaignStatus",
    "ContactBook",
    "ContactImporter",
    "ContactView",
    "DueReport",
    "EventReport",
    "ImportReport",
    "InvalidPhoneNumberError",
    "MergeResult",
    "RowIssue",
    "RunStatus",
    "Segment",
    "SegmentRuleError",
    "SegmentService",
    "SettingsService",
    "Template",
    "TemplateRegistry",
    "TemplateUnusableError",
    "derive_status",
    "fire_schedules",
    "mask_number",
    "normalize_phone",
    "process_template_events",
    "run_due",
]
