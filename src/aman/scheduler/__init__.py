"""Scheduler role: durable timers, webhook event processing, housekeeping."""
