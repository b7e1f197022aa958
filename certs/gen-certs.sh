#!/usr/bin/env bash
# Makes the migration-webhook's TLS material and the webhook configuration that trusts it.
#
#   certs/gen-certs.sh --service NAME --namespace NS --out DIR [--ip IP ...] [--dns NAME ...]
#                      [--days N] [--secret-name NAME] [--template FILE] [--force]
#
# Writes into DIR (created if missing):
#   ca.crt, ca.key         an ECDSA P-256 certificate authority (10 years)
#   tls.crt, tls.key       the serving certificate signed by it (--days, default 365), with the
#                          SANs the API server checks: NAME, NAME.NS, NAME.NS.svc,
#                          NAME.NS.svc.cluster.local, every --dns and every --ip
#   validatingwebhookconfiguration.yaml
#                          the template (default manifests/webhook/validatingwebhookconfiguration.yaml)
#                          with caBundle set to ca.crt in every clientConfig and the service
#                          name/namespace set to NAME/NS
#   secret.yaml            the kubernetes.io/tls Secret (NS/--secret-name, default
#                          migration-webhook-certs) the Deployment mounts
# Keys are mode 0600 (DIR is 0700 when created here).
#
# Running it again is cheap and safe: an existing CA is kept (so a caBundle already in the
# cluster stays valid), and the serving certificate is kept when it is signed by that CA, has
# exactly the SANs asked for and is valid for at least 30 more days; otherwise a new serving
# certificate is made with the same CA. --force makes everything new, the CA included.
# The YAML files are rendered every time.
set -euo pipefail

usage() {
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

die() {
  echo "gen-certs: $*" >&2
  exit 1
}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVICE=""
NAMESPACE=""
OUT=""
IPS=()
EXTRA_DNS=()
DAYS=365
CA_DAYS=3650
SECRET_NAME=migration-webhook-certs
TEMPLATE=$SCRIPT_DIR/../manifests/webhook/validatingwebhookconfiguration.yaml
FORCE=0

need_value() {
  [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value"
}

while (($#)); do
  case $1 in
    --service) need_value "$@"; SERVICE=$2; shift 2 ;;
    --namespace) need_value "$@"; NAMESPACE=$2; shift 2 ;;
    --out) need_value "$@"; OUT=$2; shift 2 ;;
    --ip) need_value "$@"; IPS+=("$2"); shift 2 ;;
    --dns) need_value "$@"; EXTRA_DNS+=("$2"); shift 2 ;;
    --days) need_value "$@"; DAYS=$2; shift 2 ;;
    --secret-name) need_value "$@"; SECRET_NAME=$2; shift 2 ;;
    --template) need_value "$@"; TEMPLATE=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h | --help) usage ;;
    *) echo "gen-certs: unknown argument: $1" >&2; usage ;;
  esac
done

# Every problem at once, then stop.
problems=()
[[ -n "$SERVICE" ]] || problems+=("--service is required")
[[ -n "$NAMESPACE" ]] || problems+=("--namespace is required")
[[ -n "$OUT" ]] || problems+=("--out is required")
dns_label='^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'
[[ -z "$SERVICE" || "$SERVICE" =~ $dns_label ]] ||
  problems+=("--service '$SERVICE' is not a DNS label (lower case, digits, '-', at most 63)")
[[ -z "$NAMESPACE" || "$NAMESPACE" =~ $dns_label ]] ||
  problems+=("--namespace '$NAMESPACE' is not a DNS label (lower case, digits, '-', at most 63)")
[[ "$DAYS" =~ ^[1-9][0-9]{0,4}$ ]] || problems+=("--days '$DAYS' is not a positive number of days")
[[ "$SECRET_NAME" =~ ^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$ ]] ||
  problems+=("--secret-name '$SECRET_NAME' is not a valid object name")
[[ -f "$TEMPLATE" ]] || problems+=("template $TEMPLATE does not exist")
for ip in "${IPS[@]}"; do
  if ! python3 -c 'import ipaddress, sys; ipaddress.ip_address(sys.argv[1])' "$ip" 2>/dev/null; then
    problems+=("--ip '$ip' is not an IP address")
  fi
done
for d in "${EXTRA_DNS[@]}"; do
  [[ "$d" =~ ^[a-z0-9*]([-a-z0-9.]*[a-z0-9])?$ ]] || problems+=("--dns '$d' is not a DNS name")
done
command -v openssl >/dev/null || problems+=("openssl is not installed (scripts/install-deps.sh)")
if ((${#problems[@]})); then
  printf 'gen-certs: %s\n' "${problems[@]}" >&2
  exit 2
fi

umask 077
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "$OUT/.gen-certs.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# The SANs, in the order they are written into the certificate.
SANS=("DNS:$SERVICE" "DNS:$SERVICE.$NAMESPACE" "DNS:$SERVICE.$NAMESPACE.svc"
  "DNS:$SERVICE.$NAMESPACE.svc.cluster.local")
for d in "${EXTRA_DNS[@]}"; do SANS+=("DNS:$d"); done
for ip in "${IPS[@]}"; do SANS+=("IP:$ip"); done

new_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -pkeyopt ec_param_enc:named_curve -out "$1" 2>"$WORK/openssl.log" ||
    die "openssl could not make a key: $(cat "$WORK/openssl.log")"
  chmod 0600 "$1"
}

serial() {
  echo "0x$(openssl rand -hex 16)"
}

make_ca() {
  new_key "$WORK/ca.key"
  cat >"$WORK/ca.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
x509_extensions = ca_ext
[dn]
CN = $SERVICE.$NAMESPACE webhook CA
[ca_ext]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
EOF
  openssl req -x509 -new -key "$WORK/ca.key" -config "$WORK/ca.cnf" -days "$CA_DAYS" \
    -set_serial "$(serial)" -sha256 -out "$WORK/ca.crt" 2>"$WORK/openssl.log" ||
    die "openssl could not make the CA: $(cat "$WORK/openssl.log")"
  mv "$WORK/ca.key" "$OUT/ca.key"
  mv "$WORK/ca.crt" "$OUT/ca.crt"
  chmod 0644 "$OUT/ca.crt"
}

make_serving() {
  new_key "$WORK/tls.key"
  local san_line
  san_line=$(IFS=,; echo "${SANS[*]}")
  cat >"$WORK/tls.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = $SERVICE.$NAMESPACE.svc
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $san_line
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  openssl req -new -key "$WORK/tls.key" -config "$WORK/tls.cnf" -out "$WORK/tls.csr" \
    2>"$WORK/openssl.log" || die "openssl could not make the CSR: $(cat "$WORK/openssl.log")"
  openssl x509 -req -in "$WORK/tls.csr" -CA "$OUT/ca.crt" -CAkey "$OUT/ca.key" \
    -set_serial "$(serial)" -days "$DAYS" -sha256 -extfile "$WORK/tls.cnf" -extensions ext \
    -out "$WORK/tls.crt" 2>"$WORK/openssl.log" ||
    die "openssl could not sign the serving certificate: $(cat "$WORK/openssl.log")"
  # Key first, then certificate: a server that reloads on the certificate's change sees a
  # matching key by then.
  mv "$WORK/tls.key" "$OUT/tls.key"
  mv "$WORK/tls.crt" "$OUT/tls.crt"
  chmod 0644 "$OUT/tls.crt"
}

# The SANs of a certificate, normalised to "DNS:a,DNS:b,IP:1.2.3.4" (OpenSSL prints
# "IP Address:"), in the certificate's order.
sans_of() {
  openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null |
    tail -n +2 | tr -d ' ' | sed 's/IPAddress:/IP:/g'
}

serving_is_current() {
  [[ -f "$OUT/tls.crt" && -f "$OUT/tls.key" ]] || return 1
  openssl verify -CAfile "$OUT/ca.crt" "$OUT/tls.crt" >/dev/null 2>&1 || return 1
  openssl x509 -in "$OUT/tls.crt" -noout -checkend $((30 * 24 * 3600)) >/dev/null 2>&1 || return 1
  local want have
  want=$(IFS=,; echo "${SANS[*]}")
  have=$(sans_of "$OUT/tls.crt")
  [[ "$want" == "$have" ]] || return 1
  # The key must be the certificate's key.
  [[ "$(openssl pkey -in "$OUT/tls.key" -pubout 2>/dev/null)" == \
    "$(openssl x509 -in "$OUT/tls.crt" -noout -pubkey 2>/dev/null)" ]]
}

if ((FORCE)) || [[ ! -f "$OUT/ca.crt" || ! -f "$OUT/ca.key" ]]; then
  make_ca
  make_serving
  echo "gen-certs: new CA and serving certificate in $OUT"
elif ! openssl x509 -in "$OUT/ca.crt" -noout -checkend $((30 * 24 * 3600)) >/dev/null 2>&1; then
  die "the CA in $OUT expires within 30 days; run again with --force (the caBundle changes)"
elif serving_is_current; then
  echo "gen-certs: keeping the certificates in $OUT (use --force for new ones)"
else
  make_serving
  echo "gen-certs: new serving certificate in $OUT (same CA)"
fi

CA_BUNDLE=$(base64 -w0 <"$OUT/ca.crt")

# The webhook configuration: drop any caBundle the template has, add ours right under each
# clientConfig (same indentation as its other keys), and point each service at NAME/NS.
awk -v ca="$CA_BUNDLE" -v svc="$SERVICE" -v ns="$NAMESPACE" -v header=1 '
  function indent_of(s) { match(s, /^ */); return RLENGTH }
  NR == 1 { print "# Rendered by certs/gen-certs.sh for service " svc "." ns ": the caBundle is the CA that signed its certificate." }
  header && /^#/ { next }
  { header = 0 }
  /^ *caBundle:/ { next }
  {
    ind = indent_of($0)
    if (in_service && $0 !~ /^ *$/ && ind <= service_indent) in_service = 0
    if (in_service && ind == service_indent + 2) {
      if ($0 ~ /^ *name:/) { printf "%*sname: %s\n", ind, "", svc; next }
      if ($0 ~ /^ *namespace:/) { printf "%*snamespace: %s\n", ind, "", ns; next }
    }
    print
    if ($0 ~ /^ *(- )?clientConfig: *$/) {
      printf "%*scaBundle: %s\n", ind + 2 + ($0 ~ /^ *- / ? 2 : 0), "", ca
    }
    if ($0 ~ /^ *service: *$/) { in_service = 1; service_indent = ind }
  }
' "$TEMPLATE" >"$WORK/vwc.yaml"
grep -q "caBundle: $CA_BUNDLE" "$WORK/vwc.yaml" ||
  die "the template $TEMPLATE has no clientConfig to put the caBundle in"
mv "$WORK/vwc.yaml" "$OUT/validatingwebhookconfiguration.yaml"
chmod 0644 "$OUT/validatingwebhookconfiguration.yaml"

cat >"$WORK/secret.yaml" <<EOF
# The migration-webhook's serving certificate (made by certs/gen-certs.sh). Contains a private key.
apiVersion: v1
kind: Secret
metadata:
  name: $SECRET_NAME
  namespace: $NAMESPACE
  labels:
    app.kubernetes.io/name: migration-webhook
type: kubernetes.io/tls
data:
  tls.crt: $(base64 -w0 <"$OUT/tls.crt")
  tls.key: $(base64 -w0 <"$OUT/tls.key")
  ca.crt: $CA_BUNDLE
EOF
mv "$WORK/secret.yaml" "$OUT/secret.yaml"
chmod 0600 "$OUT/secret.yaml"

echo "gen-certs: wrote $OUT/validatingwebhookconfiguration.yaml and $OUT/secret.yaml"
