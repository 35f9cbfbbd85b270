"""The bottom layer: what every app builds on, importing no app.

- `realtime`: the one way a live event reaches sockets (after commit, logged for replay);
  `consumers`: the base WebSocket consumer; `models`: the live-event log (`LiveEvent`).
- `oncommit.after_commit`: side effects after a commit, isolated from one another;
  `updates.model_update`: set and save exactly the named fields.
- `api_errors`, `parsers`, `openapi`: the API's error answers, bounded JSON, their schema.
- `admin_site`: the bare admin site and model admin (capabilities are added by accounts).
- `middleware`, `health`, `metrics`, `routers`: input bounds, probes, Prometheus, replica reads.
- `partitions`, `tasks`, `services`, `ticker`: monthly/daily partitions, the core periodic
  jobs, live-event pruning, and the embedded beat used by `make run`.

It is the Django app labelled `smartdesk` (its migrations and table names predate the
package); the project wiring (settings, urls, asgi, celery, the demo) is the `smartdesk`
package around it and is the top layer.
"""
