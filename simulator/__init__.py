"""A faithful local SIR Giving Partner API: the portal's embedded upstream, and a standalone server.

    from simulator import create_app      # in process
    python -m simulator --port 4010      # standalone

It never imports the portal (`webapp`).
"""

from .app import create_app

__all__ = ["create_app"]
