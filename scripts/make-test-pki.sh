#!/usr/bin/env bash
# make-test-pki.sh DIR [SERIAL...] - a small PKI to try TLS call home
# (RFC 8071 port 4335) in minutes, made with the `openssl` command only.
# For tests and demos: the keys are unencrypted and the CAs are toys.
#
#   manufacturer   mfr-root (self-signed) -> mfr-int (intermediate) ->
#                  one device certificate per SERIAL, whose subject carries
#                  serialNumber=SERIAL (X520, OID 2.5.4.5: IEEE 802.1AR
#                  style); what the hub trusts with --trust-anchor
#   operator       op-ca -> hub (the hub's TLS client certificate), and
#                  op-ca is what devices trust with --client-ca
#   tests          a revoked, an expired and a serial-less device
#                  certificate, one from a rogue CA, and the manufacturer's
#                  CRLs
#
# SERIALs default to SN-0001 SN-0002 SN-0003. Serial numbers are 1 to 64
# of A-Z a-z 0-9 ' ( ) + - . / : = ?  (no space, no comma).
set -euo pipefail

usage() {
  echo "usage: $0 DIR [SERIAL...]" >&2
  echo "Creates a test PKI for TLS call home in DIR (see the script's" >&2
  echo "header and docs/tls.md)." >&2
  exit 1
}
[ $# -ge 1 ] || usage
case $1 in -h|--help) usage ;; esac
dir=$1; shift
[ $# -gt 0 ] || set -- SN-0001 SN-0002 SN-0003
for s in "$@"; do
  if ! [[ $s =~ ^[A-Za-z0-9\'()+./:=?-]{1,64}$ ]]; then
    echo "$0: '$s' is not a serial number (1 to 64 of A-Z a-z 0-9 ' ( ) + - . / : = ?)" >&2
    exit 1
  fi
done
command -v openssl >/dev/null || { echo "$0: openssl not found" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
cd "$dir"
umask 077
DAYS=825

# One directory of `openssl ca` state per CA (index, serial, CRL number).
ca_config() {  # ca_config NAME
  local n=$1
  mkdir -p "ca-$n"
  : > "ca-$n/index.txt"
  echo 1000 > "ca-$n/serial"
  echo 1000 > "ca-$n/crlnumber"
  cat > "ca-$n/ca.cnf" <<EOF
[ ca ]
default_ca = this
[ this ]
dir = $dir/ca-$n
database = \$dir/index.txt
serial = \$dir/serial
crlnumber = \$dir/crlnumber
new_certs_dir = \$dir
certificate = $dir/$n.pem
private_key = $dir/$n.key
default_md = sha256
default_days = $DAYS
default_crl_days = $DAYS
policy = any
unique_subject = no
copy_extensions = none
[ any ]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
serialNumber = optional
[ v3_int ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_device ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_hub ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth, serverAuth
subjectAltName = DNS:hub.example.net
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

root_ca() {  # root_ca NAME SUBJECT
  key "$1"
  openssl req -new -x509 -key "$1.key" -out "$1.pem" -days $((DAYS * 4)) \
    -subj "$2" -addext "basicConstraints=critical,CA:true" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  ca_config "$1"
}

issue() {  # issue CA NAME SUBJECT EXT [openssl ca options...]
  local ca=$1 n=$2 subj=$3 ext=$4; shift 4
  key "$n"
  openssl req -new -key "$n.key" -subj "$subj" -out "$n.csr" 2>/dev/null
  openssl ca -batch -config "ca-$ca/ca.cnf" -preserveDN -notext \
    -extensions "$ext" -in "$n.csr" -out "$n.pem" "$@" 2>/dev/null
  rm -f "$n.csr"
}

crl() {  # crl CA
  openssl ca -batch -config "ca-$1/ca.cnf" -gencrl -out "$1.crl.pem" 2>/dev/null
}

# ---- the manufacturer: root, intermediate, devices
root_ca mfr-root "/O=ACME Devices/CN=ACME Root CA"
issue mfr-root mfr-int "/O=ACME Devices/CN=ACME Device Issuing CA" v3_int
ca_config mfr-int
cp mfr-int.pem mfr-chain.pem          # what a device sends after its cert
device() {  # device NAME SERIAL [openssl ca options...]
  local n=$1 s=$2; shift 2
  issue mfr-int "$n" "/O=ACME Devices/CN=acme-router/serialNumber=$s" v3_device "$@"
  cat "$n.pem" mfr-chain.pem > "$n-fullchain.pem"
}
for s in "$@"; do
  device "dev-$s" "$s"
done
device dev-revoked REVOKED-0001
device dev-expired EXPIRED-0001 -startdate 20200101000000Z -enddate 20210101000000Z
issue mfr-int dev-noserial "/O=ACME Devices/CN=acme-router-noserial" v3_device
cat dev-noserial.pem mfr-chain.pem > dev-noserial-fullchain.pem
openssl ca -batch -config ca-mfr-int/ca.cnf -revoke dev-revoked.pem \
  -crl_reason keyCompromise 2>/dev/null
crl mfr-int
crl mfr-root
cat mfr-int.crl.pem mfr-root.crl.pem > mfr-crls.pem   # every CA's CRL

# ---- a CA nobody trusts, issuing a listed serial (wrong CA)
root_ca rogue-ca "/O=Rogue/CN=Rogue CA"
issue rogue-ca dev-wrongca "/O=ACME Devices/CN=acme-router/serialNumber=$1" v3_device

# ---- the operator: the hub's client certificate
root_ca op-ca "/O=Example Operator/CN=Operator CA"
issue op-ca hub "/O=Example Operator/CN=callhome-hub" v3_hub

chmod 644 ./*.pem
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
cat <<EOF
Test PKI in $dir

  manufacturer trust anchor (hub --trust-anchor):  mfr-root.pem
  manufacturer CRLs (hub --crl):                   mfr-crls.pem
  device certificates (agent --cert, --key, and --chain mfr-chain.pem):
EOF
for s in "$@"; do
  printf '    dev-%s.pem  dev-%s.key  (serialNumber=%s; leaf+chain: dev-%s-fullchain.pem)\n' "$s" "$s" "$s" "$s"
done
cat <<EOF
  hub client certificate (hub --tls-cert, --tls-key):  hub.pem  hub.key
  operator CA (agent --client-ca):                 op-ca.pem
    hub certificate SHA-256 fingerprint: $(fp hub.pem)
  for tests:
    dev-revoked.pem     serialNumber=REVOKED-0001, revoked in mfr-int.crl.pem
    dev-expired.pem     serialNumber=EXPIRED-0001, expired 2021-01-01
    dev-noserial.pem    no serialNumber (admit it by pinning:
                        $(fp dev-noserial.pem))
    dev-wrongca.pem     serialNumber=$1 from rogue-ca.pem (not trusted)
  serials for \`callhome import-serials\`: serials.txt
EOF
printf '%s\n' "# serial numbers of the devices of this test PKI" "$@" > serials.txt
chmod 644 serials.txt
