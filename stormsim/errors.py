"""Exceptions of stormsim: one base class, input errors that list every problem.

CLI exit codes: 0 ok, 2 invalid input (:class:`InputError`), 1 simulation failure
(:class:`SimulationError`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem in a user's input.

    ``path`` is a dotted field path (``events[2].role``), ``line`` the 1-based YAML line or
    ``None`` when unknown, ``file`` the file the line refers to (``None``: the scenario itself).
    """

    path: str
    message: str
    line: int | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = self.path or "<root>"
        if self.line is not None:
            where += f" (line {self.line}"
            where += f" of {self.file})" if self.file else ")"
        elif self.file:
            where += f" (in {self.file})"
        return f"{where}: {self.message}"


class StormsimError(Exception):
    """Base class of every error stormsim raises on purpose."""


class InputError(StormsimError):
    """Invalid scenario, manifest or argument. Carries every problem found."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        # args keep the problems themselves, so re-raising ``type(e)(*e.args)`` (as SimPy does
        # for an exception escaping a process) rebuilds the same error
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class SimulationError(StormsimError):
    """The simulation itself failed (a bug or an impossible state)."""
