"""HTTP layer: thin routing and validation over ``service.BanditService``."""

from .app import create_app

__all__ = ["create_app"]
