"""The command line: ``policyengine <command> ...``.

Takes ``argv`` and gives an exit code (``main(argv) -> int``); ``main``
lists the commands, each in its own module with ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``, and ``common`` holds
what they share (exit codes, loading a set, printing diagnostics).

The top layer: may import every subsystem; nothing imports it but the
``policyengine`` console script and ``python -m policyengine``.
"""

from .main import main

__all__ = ["main"]
