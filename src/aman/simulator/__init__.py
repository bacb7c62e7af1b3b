"""Local fake of Meta's WhatsApp Cloud API with a simulated phone, for demos, tests and benches."""

from aman.simulator.config import (
    DEFAULT_TEMPLATES,
    SimulatorConfig,
    TemplateRegistry,
    TemplateSpec,
    template_registry,
)
from aman.simulator.delivery import DeliveryResult
from aman.simulator.errors import (
    GraphError,
    InboundRequestError,
    SimulatorConfigError,
    SimulatorError,
    SimulatorTimeoutError,
)
from aman.simulator.faults import Faults
from aman.simulator.phone import PhoneResult, SimulatedPhone
from aman.simulator.receiver import ReceivedWebhook, WebhookReceiver
from aman.simulator.server import GRAPH_VERSION, Simulator
from aman.simulator.state import SentMessage

__all__ = [
    "DEFAULT_TEMPLATES",
    "GRAPH_VERSION",
    "DeliveryResult",
    "Faults",
    "GraphError",
    "InboundRequestError",
    "PhoneResult",
    "ReceivedWebhook",
    "SentMessage",
    "SimulatedPhone",
    "Simulator",
    "SimulatorConfig",
    "SimulatorConfigError",
    "SimulatorError",
    "SimulatorTimeoutError",
    "TemplateRegistry",
    "TemplateSpec",
    "WebhookReceiver",
    "template_registry",
]
