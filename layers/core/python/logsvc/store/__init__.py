"""The log index and service configs in D1-compatible SQL, behind domain-shaped interfaces."""
