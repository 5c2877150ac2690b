"""What every domain shares: settings, the database extension and base column types, errors, the
audit log, the one write-transaction helper, caches, security headers, sign-in throttling, URL
converters and the display formatting rule. Nothing here knows a domain."""
