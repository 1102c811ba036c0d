"""One router per noun; ``griffin.server.app`` mounts them under ``/api/v1``."""
