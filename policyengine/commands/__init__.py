"""The CLI's subcommands, one module each.

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; :mod:`policyengine.cli` lists them in ``COMMANDS``.
"""
