"""The one exception type for problems a user can cause and fix."""

from __future__ import annotations


class TextcnnError(Exception):
    """A user-fixable problem. The CLI prints it as one line and exits with `exit_code`.

    The message reads `FILE:LINE: problem; fix`, with the parts that apply.
    """

    exit_code = 2

    def __init__(self, problem: str, fix: str = "", *, file: object = None, line: int | None = None):
        self.problem, self.fix, self.file, self.line = problem, fix, file, line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        return f"{where}{self.problem}" + (f"; {self.fix}" if self.fix else "")


class GateFailed(TextcnnError):
    """A quality gate refused to let the model through (not a usage error: exit 1)."""

    exit_code = 1


class Stopped(TextcnnError):
    """Stopped by a signal after saving its progress; exits as shells report a signal (128 + number)."""

    def __init__(self, signum: int, problem: str, fix: str = ""):
        self.exit_code = 128 + signum
        super().__init__(problem, fix)
