"""The REST API: FastAPI routers over the services, mounted by ``create_app()``."""

from griffin.server.app import create_app

__all__ = ["create_app"]
