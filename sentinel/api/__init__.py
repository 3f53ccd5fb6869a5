"""`sentinel api`: the HTTP service (FastAPI on uvicorn).

A thin layer: the read endpoints read through the read model
(`sentinel.views`, the CLI's own rows), the write endpoints call the same
functions as the CLI (`sentinel.findings.review`, `sentinel.control`), and the
webhooks store events through `sentinel ingest`'s validation and store. No
state of its own beyond its connection pools, so any number of replicas run
behind a load balancer. It never imports the worker.

`app.py` builds the application; `auth.py` the bearer tokens and their scopes
(`tokens.py` stores them); `routes/` one module per area; `webhooks/` the pure
mappings of GitHub's and Jenkins' deliveries to events.
"""
