"""Import TensorFlow without its C++ start-up notices on the terminal.

On some CPUs TensorFlow logs "oneDNN custom operations are on" (and the absl banner before it)
while loading, before it reads TF_CPP_MIN_LOG_LEVEL; that would break the CLI's contract that a
failure is one line on stderr. So stderr's file descriptor is captured during the import and
everything but those INFO/WARNING notices is passed on: real errors still reach the user.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

# absl's "I1204 12:00:00.000 123 file.cc:1] ..." and "W..." lines, the banner, and the
# continuation line of the CPU-feature notice.
_NOISE = re.compile(r"^(?:[IW]\d{4} |WARNING: All log messages before absl::InitializeLog|To enable the following)")


def import_tensorflow() -> None:
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not _NOISE.match(line)))
            sys.stderr.flush()
