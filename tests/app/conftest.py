from tests.store.conftest import pg_database, sqlite_template, store, store_url  # noqa: F401
