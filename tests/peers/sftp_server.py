"""An SFTP server for Portitor's tests: asyncssh on loopback.

    python3 sftp_server.py --port 2222 --root DIR --user U --password P --keys-out DIR

It serves DIR (chrooted) to one user, who may log in with the password or
with a client key. It generates two host keys (ed25519 and ECDSA, as real
servers have several) and that client key, and writes them to --keys-out:
`host_key.pub` and `host_key_ecdsa.pub` (to pin in a manifest) and
`client_key` (OpenSSH private key, to store as a secret); `ready` appears
once it listens.
"""

import argparse
import asyncio
import os
import threading
import time

import asyncssh


def exit_with_parent():
    """Stops this server when the process that started it is gone, even if
    that one was killed (`kill -9` of `portitor serve --demo`, or of a test)."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def write(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--keys-out", required=True)
    args = parser.parse_args()

    host_key = asyncssh.generate_private_key("ssh-ed25519")
    host_key_ecdsa = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_public = client_key.convert_to_public()
    write(os.path.join(args.keys_out, "host_key.pub"), host_key.export_public_key())
    write(os.path.join(args.keys_out, "host_key_ecdsa.pub"), host_key_ecdsa.export_public_key())
    write(os.path.join(args.keys_out, "client_key"), client_key.export_private_key())

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username):
            return True

        def password_auth_supported(self):
            return True

        def validate_password(self, username, password):
            return username == args.user and password == args.password

        def public_key_auth_supported(self):
            return True

        def validate_public_key(self, username, key):
            return username == args.user and key == client_public

    class Root(asyncssh.SFTPServer):
        def __init__(self, chan):
            super().__init__(chan, chroot=args.root.encode())

    async def serve():
        await asyncssh.listen(
            "127.0.0.1",
            args.port,
            server_host_keys=[host_key, host_key_ecdsa],
            server_factory=Server,
            sftp_factory=Root,
            allow_scp=False,
        )
        write(os.path.join(args.keys_out, "ready"), b"")
        await asyncio.Event().wait()

    exit_with_parent()
    asyncio.run(serve())


if __name__ == "__main__":
    main()
