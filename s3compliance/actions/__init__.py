"""The only code that writes to an account: compliance tags and alerts. Opt-in, planned first,
idempotent. Nothing on the scan path imports this package."""
