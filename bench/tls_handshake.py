"""Call-home handshake time over TLS next to SSH, measured in the same
run on one hub: a persistent callhomed per transport has its TCP
connection reset (`ss -K`) and calls again at once; the hub's time from
accepting the connection to the NETCONF session being up is taken from
its log as each line arrives. TLS: TLS 1.3, ECDSA P-256 certificates
from scripts/make-test-pki.sh, chain validation to the manufacturer
root, serial allowlist; SSH: ed25519 host key, curve25519 key exchange,
public-key authentication.

usage: tls_handshake.py BUILD_DIR [--n N]
"""

import argparse
import statistics
import subprocess
from pathlib import Path

import benchlib as bl
from callhome_bench import RECALL_AT_ONCE, REPO, USER, run_recalls


class Agent:
    """A persistent callhomed with the given call-home flags."""

    def __init__(self, env, build, name, flags, authorized):
        self.env = env
        self.label = f"callhomed ({name})"
        d = env.dir / name
        d.mkdir()
        self.argv = [build / "callhomed", *flags, "--host-key",
                     d / "host_key", "--authorized-keys", authorized,
                     "--datastore", d, "--log-level", "warn",
                     *RECALL_AT_ONCE]
        self.log = env.dir / f"{name}.log"

    def spawn(self):
        return self.env.spawn(self.argv, log=self.log)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", type=Path)
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()
    build = args.build.resolve()
    env = bl.Env()
    try:
        pki = env.dir / "pki"
        subprocess.run(["bash", REPO / "scripts" / "make-test-pki.sh", pki,
                        "SN-BENCH"], check=True, capture_output=True,
                       timeout=60)
        ssh_port, tls_port = bl.free_port(), bl.free_port()
        key = bl.ssh_keygen(env.dir / "hub_key", "bench-hub")
        hub = bl.Hub(env, build, ssh_port, key, env.dir / "hub-state", USER,
                     extra=["--listen-tls", f"127.0.0.1:{tls_port}",
                            "--tls-cert", pki / "hub.pem", "--tls-key",
                            pki / "hub.key", "--trust-anchor",
                            pki / "mfr-root.pem"])
        hub.control({"cmd": "import-serials", "text": "SN-BENCH\n"})
        ssh = Agent(env, build, "ssh", ["--call-home",
                                        f"127.0.0.1:{ssh_port}"],
                    Path(f"{key}.pub"))
        tls = Agent(env, build, "tls", [
            "--call-home-tls", f"127.0.0.1:{tls_port}",
            "--cert", pki / "dev-SN-BENCH.pem", "--key",
            pki / "dev-SN-BENCH.key", "--chain", pki / "mfr-chain.pem",
            "--client-ca", pki / "op-ca.pem", "--cert-to-name",
            "*,specified,admin"], Path(f"{key}.pub"))
        r_ssh = run_recalls(env, hub, ssh, ssh_port, args.n, 10)
        r_tls = run_recalls(env, hub, tls, tls_port, args.n, 10)
        if r_ssh is None or r_tls is None:
            raise bl.BenchError("ss -K is not available here")
        m_ssh = statistics.median(r_ssh["lat_arrival"])
        m_tls = statistics.median(r_tls["lat_arrival"])
        lines = [
            f"call-home handshake, hub accept -> NETCONF session up "
            f"(median of {args.n} re-calls of a running agent)",
            f"  SSH  {m_ssh:7.2f} ms   agent CPU {r_ssh['dev_cpu'] * 1e3:.2f}"
            f" ms, hub CPU {r_ssh['hub_cpu'] * 1e3:.2f} ms per call",
            f"  TLS  {m_tls:7.2f} ms   agent CPU {r_tls['dev_cpu'] * 1e3:.2f}"
            f" ms, hub CPU {r_tls['hub_cpu'] * 1e3:.2f} ms per call",
            f"  ratio TLS/SSH {m_tls / m_ssh:5.2f}x",
        ]
        bl.report(lines)
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
