"""The event store's way in: validate lines (`parse`, pure) and bulk-load them
(`store`, COPY into staging, then insert what is new)."""
