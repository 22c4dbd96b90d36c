"""An FTP server for Portitor's tests and demo: pyftpdlib on loopback.

    python3 ftp_server.py --port 2121 --root DIR --user U --password P [--drop-on-retr N]

With --drop-on-retr N the server drops the control connection when the Nth
RETR arrives, as a flaky partner would mid-run.
"""

import argparse
import os
import threading
import time

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def exit_with_parent():
    """Stops this server when the process that started it is gone, even if
    that one was killed (`kill -9` of `portitor serve --demo`, or of a test)."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--drop-on-retr", type=int, default=0)
    args = parser.parse_args()

    authorizer = DummyAuthorizer()
    authorizer.add_user(args.user, args.password, args.root, perm="elradfmwMT")

    retrs = {"count": 0}

    class Handler(FTPHandler):
        def ftp_RETR(self, file):
            retrs["count"] += 1
            if args.drop_on_retr and retrs["count"] >= args.drop_on_retr:
                self.close()
                return None
            return super().ftp_RETR(file)

    Handler.authorizer = authorizer
    Handler.use_gmt_times = True
    exit_with_parent()
    server = FTPServer(("127.0.0.1", args.port), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
