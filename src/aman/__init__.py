"""aman: a secure WhatsApp Business chatbot platform."""

__version__ = "0.1.0"
