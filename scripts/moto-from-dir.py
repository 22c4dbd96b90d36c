"""moto's S3 server, its bucket filled first from a directory of objects.

Filling moto through its HTTP API runs at about 400 writes/s (every request
parsed in Python), so ten times the benchmark history (over two million
objects) would take hours. This launcher creates BUCKET in moto's own
account, puts every file under DIR into it as the object named by the
file's path relative to DIR (the `fs` backend's layout: a key is its path;
the store's own dot-entries at the top are skipped),
straight through moto's backend in this process, then serves it as
`moto_server` does with the remaining arguments. A history written with
`history --fs DIR` becomes, byte for byte, the bucket `history --store`
would have written.

Usage: python3 scripts/moto-from-dir.py DIR BUCKET [moto_server arguments…]
"""

import os
import sys
import time

from moto import server
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends


def fill(root: str, bucket: str) -> int:
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    backend.create_bucket(bucket, "us-east-1")
    count = 0
    for directory, subdirectories, files in os.walk(root):
        if directory == root:
            # The store's own files (`.tmp`, `.journal`, `.lock`) are no objects.
            subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
            files = [f for f in files if not f.startswith(".")]
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as file:
                value = file.read()
            key = os.path.relpath(path, root).replace(os.sep, "/")
            backend.put_object(bucket, key, value, disable_notification=True)
            count += 1
    return count


if __name__ == "__main__":
    if len(sys.argv) < 3 or not os.path.isdir(sys.argv[1]):
        sys.exit(__doc__.strip().splitlines()[-1] + "\n(DIR must be a directory)")
    root, bucket, *arguments = sys.argv[1:]
    started = time.monotonic()
    objects = fill(root, bucket)
    print(f"filled {bucket} with {objects} objects from {root} in "
          f"{time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    sys.exit(server.main(arguments))
