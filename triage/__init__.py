"""triage: find known material on seized devices by hash, without exposing it."""

import time as _time

# When this program began (its first import of triage): a command's time budget counts from
# here, its own start-up included, as the examiner who gave it counts.
STARTED = _time.monotonic()

__version__ = "0.1.0"
TOOL_NAME = "triage"
