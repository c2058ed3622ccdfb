"""A call-home manager built on ncclient 0.6.13 (paramiko), the peer for
the hub's memory and CPU per session: accepts on its own socket (ncclient's
call_home() has a fixed 10 s timeout and no SO_REUSEADDR) and runs
manager.connect(sock=...) on each accepted connection, one at a time, as
ncclient's own call_home loop does. Sessions are kept open, idle.

usage: ncclient_manager.py PORT KEYFILE USER

stdout, one line per event: READY, UP <n live>, DOWN <n live>.
Runs until SIGTERM.
"""

import socket
import sys

from ncclient import manager


def main():
    port, keyfile, user = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1024)
    ls.settimeout(0.2)
    live = []
    print("READY", flush=True)
    while True:
        try:
            conn, peer = ls.accept()
        except socket.timeout:
            conn = None
        if conn is not None:
            conn.settimeout(None)
            try:
                m = manager.connect(host=peer[0], port=peer[1], sock=conn,
                                    username=user, key_filename=keyfile,
                                    hostkey_verify=False, allow_agent=False,
                                    look_for_keys=False, timeout=30)
            except Exception as e:  # one bad device must not stop us
                print(f"FAIL {type(e).__name__}: {e}", flush=True)
                conn.close()
                continue
            live.append(m)
            print(f"UP {len(live)}", flush=True)
        gone = [m for m in live if not m.connected]
        if gone:
            live = [m for m in live if m.connected]
            print(f"DOWN {len(live)}", flush=True)


if __name__ == "__main__":
    main()
