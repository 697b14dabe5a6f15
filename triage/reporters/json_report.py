"""report.json: the canonical output, validated against triage/schemas/report.schema.json."""

from ..jsonout import dumps
from . import register


@register("json", "report.json")
def render(report: dict) -> bytes:
    return (dumps(report, indent=2) + "\n").encode("utf-8")
