from tests.store.conftest import pg_database, sqlite_template, store_url  # noqa: F401
