"""Live tail: WebSocket subscriptions with filters, and the fan-out of new entries."""
