"""triage: find known material on seized devices by hash, without exposing it."""

__version__ = "0.1.0"
TOOL_NAME = "triage"
