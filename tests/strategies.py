"""Hypothesis strategies for HTTP requests (methods, targets, headers, bodies)."""

from __future__ import annotations

import string
from urllib.parse import quote

from hypothesis import strategies as st

TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^`|~"

methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CUSTOM-M"])

path_segments = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12
).map(lambda text: quote(text, safe=""))

paths = st.lists(path_segments, max_size=5).map(lambda parts: "/" + "/".join(parts))

query_strings = st.text(alphabet=string.ascii_letters + string.digits + "=&%+-_.", max_size=30)

header_names = st.text(
    alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=20
).filter(
    lambda name: (
        name.lower()
        not in {
            "content-length",
            "transfer-encoding",
            "host",
            "daphne-root-path",
            "expect",
            "connection",
            "upgrade",
        }
    )
)

header_values = st.text(
    alphabet=string.ascii_letters + string.digits + string.punctuation + " ", max_size=40
).map(str.strip)

headers = st.lists(st.tuples(header_names, header_values), max_size=8)

bodies = st.binary(max_size=3000)


@st.composite
def requests(draw) -> tuple[bytes, dict]:
    """A valid HTTP/1.1 request and what the app should see of it."""
    method = draw(methods)
    path = draw(paths)
    query = draw(query_strings)
    header_list = draw(headers)
    body = draw(bodies)
    chunked = draw(st.booleans())
    lines = [f"{method} {path}{'?' + query if query else ''} HTTP/1.1", "Host: example.com"]
    lines += [f"{name}: {value}" for name, value in header_list]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        pieces = draw(st.lists(st.integers(1, 500), max_size=6))
        encoded = b""
        offset = 0
        for size in pieces:
            piece = body[offset : offset + size]
            if not piece:
                break
            encoded += b"%x\r\n%s\r\n" % (len(piece), piece)
            offset += len(piece)
        body = body[:offset]
        encoded += b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        encoded = body
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + encoded
    expected = {
        "method": method,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(name.lower().encode(), value.encode()) for name, value in header_list],
        "body": body,
    }
    return raw, expected
