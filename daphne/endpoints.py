"""Build Twisted endpoint description strings from the CLI's address options.

Covered by ``tests/unit/test_endpoints.py``.
"""

from __future__ import annotations

__all__ = ["build_endpoint_description_strings"]


def build_endpoint_description_strings(
    host: str | None = None,
    port: int | None = None,
    unix_socket: str | None = None,
    file_descriptor: int | None = None,
) -> list[str]:
    """Return Twisted server endpoint strings for the given address options.

    Order: TCP (``tcp:port=P:interface=H``, colons of IPv6 hosts escaped and
    brackets removed), unix socket, file descriptor.

    :raises ValueError: when only one of ``host`` and ``port`` is given.
    """
    socket_descriptions = []
    if host and port is not None:
        host = host.strip("[]").replace(":", r"\:")
        socket_descriptions.append(f"tcp:port={int(port)}:interface={host}")
    elif any([host, port]):
        raise ValueError("TCP binding requires both port and host kwargs.")
    if unix_socket:
        socket_descriptions.append(f"unix:{unix_socket}")
    if file_descriptor is not None:
        socket_descriptions.append(f"fd:fileno={int(file_descriptor)}")
    return socket_descriptions
