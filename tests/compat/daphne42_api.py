"""Daphne 4.2.3's public Python surface, as data: module -> name -> signature.

Typed out from Daphne 4.2.3's published sources: every name its modules
define themselves (imports and the module ``logger`` are left out) and, for
each class, every public attribute and method its class body defines
(inherited Twisted or autobahn members are not Daphne's API), plus the
private ``daphne.testing._reinstall_reactor`` that downstream code imports.
Dunder methods are left out except ``__init__``, ``__call__``, ``__enter__``
and ``__exit__``: Daphne's ``__hash__``/``__eq__``/``__repr__`` on its
protocols only restated object identity.

A value is one of:

* ``CLASS``: a class;
* ``ATTRIBUTE``: anything else that must merely exist (constants, class attributes);
* a signature string as :func:`inspect.signature` shows it when the member is
  read from its class (``self`` for plain methods, no ``cls`` for class and
  static methods), prefixed ``async`` for coroutine functions.  Defaults are
  Python literals (Daphne's ``1024 * 1024`` is written out).

Used by ``test_daphne42_api.py``.
"""

from __future__ import annotations

CLASS = "class"
ATTRIBUTE = "attribute"

DAPHNE_42: dict[str, dict[str, str]] = {
    "daphne.server": {
        "twisted_loop": ATTRIBUTE,
        "current_reactor": ATTRIBUTE,
        "Server": CLASS,
        "Server.__init__": (
            "(self, application, endpoints=None, signal_handlers=True, action_logger=None,"
            " http_timeout=None, request_buffer_size=8192, websocket_timeout=86400,"
            " websocket_connect_timeout=20, ping_interval=20, ping_timeout=30, root_path='',"
            " proxy_forwarded_address_header=None, proxy_forwarded_port_header=None,"
            " proxy_forwarded_proto_header=None, verbosity=1, websocket_handshake_timeout=5,"
            " websocket_max_message_size=1048576, websocket_max_frame_size=1048576,"
            " application_close_timeout=10, ready_callable=None, server_name='daphne')"
        ),
        "Server.run": "(self)",
        "Server.listen_success": "(self, port)",
        "Server.listen_error": "(self, failure)",
        "Server.stop": "(self)",
        "Server.protocol_connected": "(self, protocol)",
        "Server.protocol_disconnected": "(self, protocol)",
        "Server.create_application": "(self, protocol, scope)",
        "Server.handle_reply": "async (self, protocol, message)",
        "Server.check_headers_type": "(message)",
        "Server.application_checker": "(self)",
        "Server.kill_all_applications": "(self)",
        "Server.timeout_checker": "(self)",
        "Server.log_action": "(self, protocol, action, details)",
    },
    "daphne.cli": {
        "DEFAULT_HOST": ATTRIBUTE,
        "DEFAULT_PORT": ATTRIBUTE,
        "CommandLineInterface": CLASS,
        "CommandLineInterface.description": ATTRIBUTE,
        "CommandLineInterface.server_class": ATTRIBUTE,
        "CommandLineInterface.__init__": "(self)",
        "CommandLineInterface.entrypoint": "()",
        "CommandLineInterface.load_asgi_app": "(self, asgi_app_path)",
        "CommandLineInterface.run": "(self, args)",
    },
    "daphne.testing": {
        "BaseDaphneTestingInstance": CLASS,
        "BaseDaphneTestingInstance.startup_timeout": ATTRIBUTE,
        "BaseDaphneTestingInstance.__init__": (
            "(self, xff=False, http_timeout=None, request_buffer_size=None,"
            " websocket_max_message_size=None, websocket_max_frame_size=None, *, application)"
        ),
        "BaseDaphneTestingInstance.get_application": "(self)",
        "BaseDaphneTestingInstance.__enter__": "(self)",
        "BaseDaphneTestingInstance.__exit__": "(self, exc_type, exc_value, traceback)",
        "BaseDaphneTestingInstance.process_setup": "(self)",
        "BaseDaphneTestingInstance.process_teardown": "(self)",
        "BaseDaphneTestingInstance.get_received": "(self)",
        "DaphneTestingInstance": CLASS,
        "DaphneTestingInstance.__init__": "(self, *args, **kwargs)",
        "DaphneTestingInstance.__enter__": "(self)",
        "DaphneTestingInstance.get_received": "(self)",
        "DaphneTestingInstance.add_send_messages": "(self, messages)",
        "DaphneProcess": CLASS,
        "DaphneProcess.__init__": (
            "(self, host, get_application, kwargs=None, setup=None, teardown=None, port=None)"
        ),
        "DaphneProcess.run": "(self)",
        "DaphneProcess.resolve_port": "(self)",
        "TestApplication": CLASS,
        "TestApplication.setup_storage": ATTRIBUTE,
        "TestApplication.result_storage": ATTRIBUTE,
        "TestApplication.__init__": "(self, lock)",
        "TestApplication.__call__": "async (self, scope, receive, send)",
        "TestApplication.save_setup": "(response_messages)",
        "TestApplication.load_setup": "()",
        "TestApplication.save_result": "(scope, messages)",
        "TestApplication.save_exception": "(exception)",
        "TestApplication.load_result": "()",
        "TestApplication.delete_setup": "()",
        "TestApplication.delete_result": "()",
        "_reinstall_reactor": "()",
    },
    "daphne.endpoints": {
        "build_endpoint_description_strings": (
            "(host=None, port=None, unix_socket=None, file_descriptor=None)"
        ),
    },
    "daphne.access": {
        "AccessLogGenerator": CLASS,
        "AccessLogGenerator.__init__": "(self, stream)",
        "AccessLogGenerator.__call__": "(self, protocol, action, details)",
        "AccessLogGenerator.write_entry": (
            "(self, host, date, request, status=None, length=None, ident=None, user=None)"
        ),
    },
    "daphne.utils": {
        "HEADER_NAME_RE": ATTRIBUTE,
        "INVALID_HEADER_VALUE_BYTES": ATTRIBUTE,
        "import_by_path": "(path)",
        "header_value": "(headers, header_name)",
        "parse_x_forwarded_for": (
            "(headers, address_header_name='X-Forwarded-For',"
            " port_header_name='X-Forwarded-Port', proto_header_name='X-Forwarded-Proto',"
            " original_addr=None, original_scheme=None)"
        ),
    },
    "daphne.http_protocol": {
        "WebRequest": CLASS,
        "WebRequest.error_template": ATTRIBUTE,
        "WebRequest.__init__": "(self, *args, **kwargs)",
        "WebRequest.process": "(self)",
        "WebRequest.connectionLost": "(self, reason)",
        "WebRequest.finish": "(self)",
        "WebRequest.handle_reply": "(self, message)",
        "WebRequest.handle_exception": "(self, exception)",
        "WebRequest.check_timeouts": "(self)",
        "WebRequest.send_disconnect": "(self)",
        "WebRequest.duration": "(self)",
        "WebRequest.basic_error": "(self, status, status_text, body)",
        "HTTPFactory": CLASS,
        "HTTPFactory.__init__": "(self, server)",
        "HTTPFactory.buildProtocol": "(self, addr)",
        "HTTPFactory.acceptableProtocols": "(self)",
    },
    "daphne.ws_protocol": {
        "WebSocketProtocol": CLASS,
        "WebSocketProtocol.application_type": ATTRIBUTE,
        "WebSocketProtocol.muted": ATTRIBUTE,
        "WebSocketProtocol.onConnect": "(self, request)",
        "WebSocketProtocol.applicationCreateWorked": "(self, application_queue)",
        "WebSocketProtocol.applicationCreateFailed": "(self, failure)",
        "WebSocketProtocol.onOpen": "(self)",
        "WebSocketProtocol.onMessage": "(self, payload, isBinary)",
        "WebSocketProtocol.onClose": "(self, wasClean, code, reason)",
        "WebSocketProtocol.handle_reply": "(self, message)",
        "WebSocketProtocol.handle_exception": "(self, exception)",
        "WebSocketProtocol.serverAccept": "(self, subprotocol=None)",
        "WebSocketProtocol.serverReject": "(self)",
        "WebSocketProtocol.serverSend": "(self, content, binary=False)",
        "WebSocketProtocol.serverClose": "(self, code=None)",
        "WebSocketProtocol.duration": "(self)",
        "WebSocketProtocol.check_timeouts": "(self)",
        "WebSocketFactory": CLASS,
        "WebSocketFactory.protocol": ATTRIBUTE,
        "WebSocketFactory.__init__": "(self, server_class, *args, **kwargs)",
        "WebSocketFactory.buildProtocol": "(self, addr)",
    },
}
