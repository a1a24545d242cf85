"""Error analysis: template mining, severity and anomaly, recommendations, summaries."""
