"""Error patterns: messages mined into templates with Drain (drain3), variables masked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

# Variable parts of messages, most specific first; Drain then groups what is left.
MASKS = (
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
    (r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+", "URL"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "IP"),
    (r"(?<![\w/])(?:/[\w.@%+-]+){2,}/?", "PATH"),
    (r"\b[0-9a-fA-F]{12,}\b", "HEX"),
    (r"\b(?:req|request|trace|span|id)[-_:]?[0-9a-zA-Z]{6,}\b", "ID"),
    (r"[-+]?\b\d+(?:\.\d+)?(?:ms|s|m|h|kb|mb|gb|%)?\b", "NUM"),
)


@dataclass
class Pattern:
    template: str
    count: int
    share: float  # of the entries analyzed
    first_seen: int  # Unix ms
    last_seen: int
    example: str
    critical: int = 0  # how many of them were CRITICAL
    # When each entry was logged (the Loki API's pattern samples); not in the view.
    timestamps: list[int] = field(default_factory=list, repr=False)

    def view(self) -> dict[str, Any]:
        view = asdict(self)
        del view["timestamps"]
        return view

    def timeline(self, start_ms: int, end_ms: int, buckets: int = 24) -> list[int]:
        """How many of its entries fell in each of ``buckets`` equal parts of a window."""
        counts = [0] * buckets
        span = max(1, end_ms - start_ms + 1)
        for timestamp in self.timestamps:
            if start_ms <= timestamp <= end_ms:
                counts[(timestamp - start_ms) * buckets // span] += 1
        return counts


def mine_patterns(entries: Iterable[dict[str, Any]], limit: int = 20) -> list[Pattern]:
    """Group messages into templates, most frequent first (at most ``limit``)."""
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.masking_instructions = [MaskingInstruction(pattern, name) for pattern, name in MASKS]
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)

    seen: dict[int, Pattern] = {}
    total = 0
    for entry in entries:
        total += 1
        message = " ".join(entry["message"].split())[:2000] or "(empty)"
        cluster_id = miner.add_log_message(message)["cluster_id"]
        pattern = seen.get(cluster_id)
        if pattern is None:
            pattern = seen[cluster_id] = Pattern(
                "", 0, 0.0, entry["timestamp"], entry["timestamp"], entry["message"][:500]
            )
        pattern.count += 1
        pattern.timestamps.append(entry["timestamp"])
        pattern.critical += entry.get("level") == "CRITICAL"
        pattern.first_seen = min(pattern.first_seen, entry["timestamp"])
        pattern.last_seen = max(pattern.last_seen, entry["timestamp"])
    clusters = {cluster.cluster_id: cluster for cluster in miner.drain.clusters}
    for cluster_id, pattern in seen.items():
        pattern.template = clusters[cluster_id].get_template()
        pattern.share = round(pattern.count / total, 4)
    return sorted(seen.values(), key=lambda p: (-p.count, p.template))[:limit]
