"""What every function's HTTP side shares: the resolver, auth, error mapping, response models."""
