"""One ID per request: the X-Request-ID, its context variable, and the log glue.

`ids` holds the ID of the request (or deploy job) being served and
validates incoming ones; `middleware` sets and clears it and echoes it in
every response; `logs` puts it on every log line and formats them as text
or JSON (TAOS_LOG_FORMAT). The api and deploys apps import it; it imports
nothing of the project, and `ids` and `logs` import no Django (gunicorn's
configuration uses them before Django is set up).
"""
