"""``python -m daphne``: the same as the ``daphne`` command."""

from daphne.cli import CommandLineInterface

CommandLineInterface.entrypoint()
