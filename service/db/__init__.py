"""PostgreSQL as the source of truth: migrations, import, loading, change following."""
