"""Online feature stores: the latest values per (view, entity), for the serving path.

Open one with :func:`open_online_store`; the URL's scheme picks the implementation through the
``online_store`` plug-in kind (``sqlite`` and ``redis``/``rediss`` are built in, see
``docs/plugins.md``). Drivers are imported only when their scheme is used, so the Redis client
is needed only by those who configure ``redis://``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from griffin import plugins
from griffin.config import mask_url
from griffin.errors import ConfigError
from griffin.features.online.base import (
    OnlineStore,
    Record,
    ViewRead,
    check_view_name,
    encode_entity_key,
)

__all__ = [
    "OnlineStore",
    "Record",
    "ViewRead",
    "check_view_name",
    "encode_entity_key",
    "open_online_store",
]


def open_online_store(url: str) -> OnlineStore:
    """The online store for ``url`` (``sqlite:///path`` or ``redis://host:port/db``).

    Raises:
        ConfigError: the URL has no scheme, or no store is registered for its scheme.
        BackendUnavailable: the store's file or server cannot be opened.
    """
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if not scheme:
        raise ConfigError(
            f"online store URL {mask_url(url)!r} has no scheme; "
            "use sqlite:///path/to/online.db or redis://host:6379/0"
        )
    cls: type[OnlineStore] = plugins.resolve("online_store", scheme)
    return cls(url)
