"""What every part of :class:`griffin.Client` shares: the transport and the default project."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from griffin.client.transport import Params, Transport
from griffin.client.wire import Json

if TYPE_CHECKING:
    from griffin.config import Settings

__all__ = ["ClientBase", "segment", "strings"]

PAGE_SIZE = 1000  # the server's largest page for list endpoints


def segment(value: str) -> str:
    """One URL path segment: experiment names may hold spaces, and '/' must not split them."""
    return quote(value, safe="")


def strings(values: Mapping[str, Any] | None) -> dict[str, str]:
    """Params and tags are strings on the wire; other values are converted with ``str()``."""
    return {str(k): v if isinstance(v, str) else str(v) for k, v in (values or {}).items()}


class ClientBase:
    """The transport, the default project and small request helpers used by every resource."""

    project: str
    settings: Settings
    _transport: Transport

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        response = self._transport.request(
            method, path, params=params, json=json, idempotent=idempotent
        )
        if response.status_code == 204 or not response.content:
            return None
        return orjson.loads(response.content)

    def _project_path(self, project: str | None = None) -> str:
        return f"/projects/{segment(project or self.project)}"

    def _pages(
        self, path: str, params: Mapping[str, str | int | bool | None], limit: int | None
    ) -> Iterator[Json]:
        """Items of a cursor-paged GET endpoint, following ``next_cursor`` up to ``limit``."""
        cursor: str | None = None
        seen = 0
        while limit is None or seen < limit:
            size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - seen)
            page = self._call("GET", path, params={**params, "limit": size, "cursor": cursor})
            for item in page["items"]:
                yield item
                seen += 1
            cursor = page.get("next_cursor")
            if not cursor:
                return
