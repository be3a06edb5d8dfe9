"""Alembic migrations: env.py runs on the connection storage.db.migrate hands it."""
