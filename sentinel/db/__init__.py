"""Database access: schema, connections, migrations, the embedded server."""
