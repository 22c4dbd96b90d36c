"""moto's S3 server, with its writes made one at a time.

moto checks a conditional write's `If-Match` / `If-None-Match` and then
writes, as two steps, on one of many request threads: two conditional
writes that race can both succeed, which S3 itself never allows. Portitor
relies on S3's rule (exactly one winner: schedule leases, create-once,
compare-and-swap), and a test that races two nodes on a loaded machine
saw both win. So the tests start moto through this launcher, which lets
one write (PUT, POST, DELETE) in at a time, then runs moto's server as
`moto_server` does, with the same arguments.
"""

import sys
import threading

from moto import server
from moto.moto_server import werkzeug_app

_one_write_at_a_time = threading.Lock()
_dispatch = werkzeug_app.DomainDispatcherApplication.__call__


def _serialized(self, environ, start_response):
    if environ.get("REQUEST_METHOD") in ("PUT", "POST", "DELETE"):
        with _one_write_at_a_time:
            return _dispatch(self, environ, start_response)
    return _dispatch(self, environ, start_response)


werkzeug_app.DomainDispatcherApplication.__call__ = _serialized

if __name__ == "__main__":
    sys.exit(server.main(sys.argv[1:]))
