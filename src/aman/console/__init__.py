"""aman.console: the admin console (page shell, static assets, demo phone page) and its helpers.

``console_routes(settings)`` gives the routes the outer app mounts at ``/``;
the live feed (``feed``), flow diagrams (``diagram``) and their read-only
queries (``repository``) serve the console's endpoints under ``/api/v1``.
"""

from aman.console.routes import STATIC_DIR, console_routes

__all__ = ["STATIC_DIR", "console_routes"]
