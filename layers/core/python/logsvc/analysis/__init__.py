"""Error analysis: template mining, severity and anomaly, recommendations, summaries."""

# Entries mined per level and service: bounds the work of one analysis or patterns request.
MAX_ENTRIES = 5000
