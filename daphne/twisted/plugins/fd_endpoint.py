"""Twisted endpoint plugin ``fd:fileno=N[:domain=INET|INET6|UNIX]``.

Installed as ``twisted/plugins/fd_endpoint.py`` so that any Twisted program
(and ``daphne -e fd:...``) can adopt a listening socket passed down by a
process manager.  The address family is read from the socket itself when no
``domain`` is given.  Covered by ``tests/compat/test_plugin_packaging.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.interfaces import IStreamServerEndpointStringParser
from twisted.plugin import IPlugin
from zope.interface import implementer

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorCore, IStreamServerEndpoint


@implementer(IPlugin, IStreamServerEndpointStringParser)
class _FileDescriptorEndpointParser:
    prefix = "fd"

    def parseStreamServer(
        self, reactor: IReactorCore, *args: object, **kwargs: object
    ) -> IStreamServerEndpoint:
        from daphne._process.listen import server_endpoint

        parts = [f"{key}={value}" for key, value in kwargs.items()]
        return server_endpoint(reactor, ":".join(["fd", *map(str, args), *parts]))


parser = _FileDescriptorEndpointParser()
