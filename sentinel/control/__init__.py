"""An operator's actions on the fleet's work: retry a run, replay a stream.

The CLI (`runs retry`, `runs replay`) and the HTTP API (`POST
/api/runs/{id}/retry`, `POST /api/streams/{key}/recheck`) both call these, so
they refuse the same things for the same reasons. They write only the `run`
and `stream` rows the lease protocol reads; the workers do the rest.
"""
