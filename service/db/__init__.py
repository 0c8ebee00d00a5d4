"""PostgreSQL as the source of truth: migrations, import, loading, change following."""

# Seconds to wait for a new connection (the access log, the follower, the admin routes):
# short, because each has something better to do meanwhile (spill, keep serving, answer 503).
CONNECT_TIMEOUT = 3.0
