"""ncclient's call home as a peer in the scale benchmark (bench/README.md,
"Scale"): a manager that takes call-home devices with ncclient, each
session in its own thread, all kept open and idle.

ncclient 0.6.13's manager.call_home(host=, port=, ...) binds a listening
socket, accepts one connection and runs connect_ssh(sock=accepted) on
it: one device per call, and a second call on the same port fails with
EADDRINUSE while the first device is connected (no SO_REUSEADDR). So
this does what call_home does after its accept, for every device: one
listening socket (call_home's default backlog), an accept loop, and for
each accepted connection a thread running manager.connect(sock=...)
(call_home's own path: SSH client, hostkey_verify=False, public-key
authentication with KEY as USER, NETCONF hello). ncclient itself adds
the session's reader thread and paramiko's transport thread.

Prints "ready", then "up: N errors: E" once a second while it changes,
on stdout. SIGTERM/SIGINT end it (without closing the sessions one by
one). Run with Debian's /usr/bin/python3 (python3-ncclient).

usage: ncclient_hub.py ADDR:PORT KEY [USER]
"""

import os
import signal
import socket
import sys
import threading
import time

from ncclient import manager

ACCEPT_WAIT_S = 1.0     # accept() wakes this often to see SIGTERM
TICK_S = 1.0            # the progress line's period
SESSION_TIMEOUT_S = 30  # ncclient's own per-operation timeout

lock = threading.Lock()
sessions = []
errors = [0]
stop = threading.Event()


def take(sock, peer, key, user):
    try:
        m = manager.connect(host=peer[0], port=peer[1], sock=sock,
                            username=user, key_filename=key,
                            hostkey_verify=False, allow_agent=False,
                            look_for_keys=False,
                            timeout=SESSION_TIMEOUT_S)
    except Exception:   # noqa: BLE001 - the device failed, count it
        with lock:
            errors[0] += 1
        sock.close()
        return
    with lock:
        sessions.append(m)


def ticker():
    last = -1
    while not stop.wait(TICK_S):
        with lock:
            n, e = len(sessions), errors[0]
        if n != last:
            print(f"up: {n} errors: {e}", flush=True)
            last = n


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[1] == "--help":
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        sys.exit(2)
    host, port = sys.argv[1].rsplit(":", 1)
    key = sys.argv[2]
    user = sys.argv[3] if len(sys.argv) == 4 else "netconf"
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, int(port)))
    srv.settimeout(ACCEPT_WAIT_S)
    srv.listen()
    threading.Thread(target=ticker, daemon=True).start()
    print("ncclient_hub: ready", flush=True)
    while not stop.is_set():
        try:
            sock, peer = srv.accept()
        except (socket.timeout, InterruptedError):
            continue
        except OSError:
            with lock:
                errors[0] += 1
            time.sleep(0.01)
            continue
        sock.settimeout(None)
        threading.Thread(target=take, args=(sock, peer, key, user),
                         daemon=True).start()
    with lock:
        print(f"up: {len(sessions)} errors: {errors[0]}", flush=True)
    # thousands of sessions closed one by one would only slow the
    # benchmark down: they end with the process
    os._exit(0)


if __name__ == "__main__":
    main()
