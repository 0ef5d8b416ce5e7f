"""Start Twisted without pyOpenSSL when no listener needs TLS, and give TLS back on first use.

Importing Twisted's reactor (``twisted.internet.posixbase`` and ``tcp``) and
``twisted.internet.endpoints`` loads pyOpenSSL, cryptography and service_identity
whenever they are installed: about 13 MiB of memory and 50 ms of every start-up, for
TLS that a server listening on plain TCP or UNIX sockets never uses.

:func:`import_twisted_without_tls` imports those modules while ``OpenSSL`` cannot be
imported, so each takes its own "no TLS" branch (``posixbase.tls = None``, stub TLS
mixins in ``tcp``, no TLS names in ``endpoints``).  It also arms a hook: the first time
anything imports ``OpenSSL`` afterwards (the application, a Twisted HTTPS client such as
treq, a TLS endpoint), :func:`_restore` gives those modules exactly what a normal import
would have given them, so ``listenSSL``, ``connectSSL``, ``startTLS``, ``wrapClientTLS``
and ``ssl:`` endpoint strings keep working in such a process.  Everything a TLS call
needs (a context factory, certificate options) comes from pyOpenSSL, so pyOpenSSL is
always imported, and the modules restored, before the first TLS call reaches them.

Twisted privates used here: the module globals named in :func:`_restore`
(``posixbase.tls``/``ssl`` and ``IReactorSSL``, ``tcp``'s ``_TLS*Mixin`` bases and ``ITLSTransport``,
``endpoints``' TLS names).  ``tests/unit/test_twisted_tls.py`` compares every Twisted
module loaded by a hidden import and a restore with a normal import, name by name and
class by class (MRO and interfaces), so a Twisted release that adds or moves one fails
there; it also runs ``listenSSL``/``connectSSL``, ``startTLS`` and an ``ssl:`` endpoint
in a process started this way.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from types import ModuleType

from ._process.listen import FD_TLS_OPTIONS, split_description

__all__ = ["import_twisted_without_tls", "needs_tls", "restore", "tls_deferred"]

logger = logging.getLogger(__name__)

#: Endpoint types that never use TLS (``fd:`` only without TLS options).
_PLAIN_KINDS = frozenset({"tcp", "tcp6", "unix", "systemd", "fd"})

#: The Twisted modules that import pyOpenSSL when it is importable, and the reactor.
_HIDDEN_FROM = ("twisted.internet.endpoints", "twisted.internet.asyncioreactor")

_lock = threading.RLock()
_state = {"deferred": False}


def needs_tls(descriptions: Iterable[str]) -> bool:
    """Whether listening on ``descriptions`` may need TLS.

    Plain ``tcp:``/``tcp6:``/``unix:``/``systemd:`` sockets and ``fd:`` ones without
    certificate options do not; ``ssl:`` and any other type (a plugin's) may.
    """
    for description in descriptions:
        kind, _args, kwargs = split_description(description)
        if kind not in _PLAIN_KINDS or (
            kind == "fd" and not kwargs.keys().isdisjoint(FD_TLS_OPTIONS)
        ):
            return True
    return False


def tls_deferred() -> bool:
    """Whether this process started Twisted without pyOpenSSL and has not restored it yet."""
    return _state["deferred"]


def import_twisted_without_tls() -> bool:
    """Import Twisted's reactor modules and endpoints without pyOpenSSL; whether it did.

    Nothing is done (``False``) when pyOpenSSL or those modules are loaded already.
    """
    loaded = ("OpenSSL", "twisted.internet.tcp", "twisted.internet.endpoints")
    if any(name in sys.modules for name in loaded):
        return False
    sys.modules["OpenSSL"] = None  # type: ignore[assignment]  # "import OpenSSL" raises ImportError
    try:
        for name in _HIDDEN_FROM:
            importlib.import_module(name)
    finally:
        modules: Mapping[str, object] = sys.modules
        if "OpenSSL" in modules and modules["OpenSSL"] is None:
            del sys.modules["OpenSSL"]
    _state["deferred"] = True
    sys.meta_path.insert(0, _RestoreAfterTLSImports())
    return True


#: What :func:`_restore` imports (and pyOpenSSL's own modules).  It runs once pyOpenSSL is
#: loaded and none of these is half-imported: ``twisted.internet.ssl`` imports pyOpenSSL
#: near its top, so restoring right after pyOpenSSL would meet it half-initialised.
_WATCHED = frozenset(
    {
        "OpenSSL",
        "OpenSSL.SSL",
        "OpenSSL.crypto",
        "twisted.internet.ssl",
        "twisted.internet._sslverify",
        "twisted.internet._newtls",
        "twisted.internet._service_identity",
        "twisted.protocols.tls",
        "twisted.protocols._sni",
        "twisted.protocols._tls_legacy",
    }
)


class _RestoreAfterTLSImports(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loaders of :data:`_WATCHED` modules.

    After each one is executed, :func:`_restore` runs if pyOpenSSL is loaded and no
    watched module is still being imported (in any thread).
    """

    def __init__(self) -> None:
        self.importing: set[str] = set()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _WATCHED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _RestoringLoader(spec.loader, self, fullname)
                return spec
        return None

    def finished(self, name: str) -> None:
        with _lock:
            self.importing.discard(name)
            ready = "OpenSSL" in sys.modules and not self.importing
        if ready:
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            try:
                restore()
            except Exception:  # a Twisted release this module does not know: say so
                logger.exception("Twisted's TLS support could not be restored after a lazy start")


class _RestoringLoader(importlib.abc.Loader):
    def __init__(
        self, loader: importlib.abc.Loader, finder: _RestoreAfterTLSImports, name: str
    ) -> None:
        self._loader = loader
        self._finder = finder
        self._name = name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps its own loader, for importlib.resources and the like.
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        with _lock:
            self._finder.importing.add(self._name)
        try:
            self._loader.exec_module(module)
        finally:
            self._finder.finished(self._name)


def restore() -> None:
    """Give Twisted's modules what they would have had if pyOpenSSL had been importable.

    Idempotent; a no-op unless :func:`import_twisted_without_tls` hid pyOpenSSL.
    """
    with _lock:
        if not _state["deferred"]:
            return
        _restore()
        _state["deferred"] = False


def _restore() -> None:
    from OpenSSL.SSL import Error as SSLError
    from twisted.internet import _newtls, endpoints, posixbase, ssl, tcp
    from twisted.internet.interfaces import IReactorSSL, ITLSTransport
    from twisted.internet.ssl import (
        Certificate,
        CertificateOptions,
        KeyPair,
        PrivateCertificate,
        optionsForClientTLS,
        trustRootFromCertificates,
    )
    from twisted.protocols import tls
    from twisted.protocols._sni import (
        SNIConnectionCreator,
        TLSServerEndpoint,
        autoReloadingDirectoryOfPEMs,
    )
    from zope.interface import classImplements

    # posixbase: the modules listenSSL and connectSSL use, and the interface they make up.
    vars(posixbase).update(_tls=tls, tls=tls, _ssl=ssl, ssl=ssl)
    classImplements(posixbase.PosixReactorBase, IReactorSSL)
    # tcp: the startTLS mixins in place of the stubs, on the classes already defined.
    tcp_names = vars(tcp)
    for cls, stub_name, mixin in (
        (tcp.Connection, "_TLSConnectionMixin", _newtls.ConnectionMixin),
        (tcp.BaseClient, "_TLSClientMixin", _newtls.ClientMixin),
        (tcp.Server, "_TLSServerMixin", _newtls.ServerMixin),
    ):
        stub = tcp_names[stub_name]
        if stub is not mixin:
            cls.__bases__ = tuple(mixin if base is stub else base for base in cls.__bases__)
            tcp_names[stub_name] = mixin
    tcp_names["ITLSTransport"] = ITLSTransport
    classImplements(tcp.Connection, ITLSTransport)
    # endpoints: the names its "OpenSSL is importable" branch binds.
    vars(endpoints).update(
        SSLError=SSLError,
        Certificate=Certificate,
        CertificateOptions=CertificateOptions,
        KeyPair=KeyPair,
        PrivateCertificate=PrivateCertificate,
        optionsForClientTLS=optionsForClientTLS,
        trustRootFromCertificates=trustRootFromCertificates,
        SNIConnectionCreator=SNIConnectionCreator,
        _TLSServerEndpoint=TLSServerEndpoint,
        autoReloadingDirectoryOfPEMs=autoReloadingDirectoryOfPEMs,
        _TLSMemoryBIOFactory=tls.TLSMemoryBIOFactory,
        TLSMemoryBIOFactory=tls.TLSMemoryBIOFactory,
    )
