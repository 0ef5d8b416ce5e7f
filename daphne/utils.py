"""Public helpers kept from Daphne: app import, header access, proxy headers.

Covered by ``tests/unit/test_pure_layers.py`` and ``tests/unit/test_proxy.py``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

__all__ = [
    "HEADER_NAME_RE",
    "INVALID_HEADER_VALUE_BYTES",
    "header_value",
    "import_by_path",
    "parse_x_forwarded_for",
]

#: RFC 9110 §5.6.2 ``token``: the only valid spelling of a header field name.
HEADER_NAME_RE = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")

#: Bytes Daphne 4.2.2 refused in header values (CVE-2026-44546): Python's
#: ``str.splitlines`` treats them as line breaks, so a parser built on it would
#: see extra header lines.  Kept for API compatibility; the server rejects every
#: control byte, and 0x85 only where it is not part of valid UTF-8.
INVALID_HEADER_VALUE_BYTES = frozenset(b"\x0b\x0c\x1c\x1d\x1e\x85")


def import_by_path(path: str) -> Any:  # Any: whatever object the path names
    """Import ``"package.module:attr.sub_attr"`` and return the object.

    :raises ValueError: when ``path`` has no colon.
    :raises ImportError: when the module cannot be imported.
    :raises AttributeError: when an attribute along the dotted part is missing.
    """
    module_path, sep, object_path = path.partition(":")
    if not sep:
        raise ValueError(f"Application path {path!r} must be of the form 'module.path:attribute'")
    target: Any = importlib.import_module(module_path)  # Any: attributes of any kind
    for bit in object_path.split("."):
        target = getattr(target, bit)
    return target


def header_value(headers: Mapping[bytes, bytes | list[bytes]], header_name: bytes) -> str:
    """Return the first value of ``header_name`` in ``headers``, UTF-8 decoded."""
    value = headers[header_name]
    if isinstance(value, list):
        value = value[0]
    return value.decode("utf-8")


class _RawHeaders(Protocol):
    """Twisted's ``Headers`` (or anything else with ``getAllRawHeaders``)."""

    def getAllRawHeaders(self) -> Iterable[tuple[bytes, Sequence[bytes]]]: ...


#: What :func:`parse_x_forwarded_for` reads: Twisted ``Headers``, or a mapping of
#: byte names to one value or a list of values.
_HeadersLike = _RawHeaders | Mapping[bytes, bytes | Sequence[bytes]]


def _as_header_dict(headers: _HeadersLike) -> dict[bytes, list[bytes]]:
    """Normalise Twisted ``Headers`` or a mapping to ``{lower name: [values]}``."""
    items: list[tuple[bytes, bytes | Sequence[bytes]]]
    if hasattr(headers, "getAllRawHeaders"):
        items = list(headers.getAllRawHeaders())
    else:
        items = list(headers.items())
    result: dict[bytes, list[bytes]] = {}
    for name, values in items:
        assert isinstance(name, bytes), "header names must be bytes"
        if isinstance(values, (bytes, str)):
            values = [values]
        result.setdefault(name.lower(), []).extend(values)
    return result


def parse_x_forwarded_for(
    headers: _HeadersLike,
    address_header_name: str | None = "X-Forwarded-For",
    port_header_name: str | None = "X-Forwarded-Port",
    proto_header_name: str | None = "X-Forwarded-Proto",
    original_addr: list[str | int] | None = None,
    original_scheme: str | None = None,
) -> tuple[list[str | int] | None, str | None]:
    """Work out the client address and scheme from proxy headers.

    ``headers`` is a Twisted ``Headers`` object or a mapping of byte names to a
    value or list of values.  Only when the address header is present are the
    port and proto headers consulted; the left-most address of a comma-separated
    list is taken (the client as the first proxy saw it).

    :returns: ``(address, scheme)``: ``[host, port]`` (port 0 when unknown) or
        ``original_addr``, and the proto header value or ``original_scheme``.
    """
    if not address_header_name:
        return original_addr, original_scheme
    header_dict = _as_header_dict(headers)
    address_key = address_header_name.lower().encode("latin-1")
    if address_key not in header_dict:
        return original_addr, original_scheme
    address_value = header_value(header_dict, address_key)
    if "," in address_value:
        address_value = address_value.split(",")[0].strip()
    result_addr: list[str | int] = [address_value, 0]
    result_scheme = original_scheme
    if port_header_name:
        port_key = port_header_name.lower().encode("latin-1")
        if port_key in header_dict:
            try:
                result_addr[1] = int(header_value(header_dict, port_key))
            except ValueError:
                pass
    if proto_header_name:
        proto_key = proto_header_name.lower().encode("latin-1")
        if proto_key in header_dict:
            result_scheme = header_value(header_dict, proto_key)
    return result_addr, result_scheme
