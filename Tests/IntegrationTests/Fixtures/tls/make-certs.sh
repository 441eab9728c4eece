#!/bin/sh
# Test PKI for the TLS tests (never used outside tests): a CA, two server certificates for
# 127.0.0.1/localhost signed by it (the second one to test reloading), and an unrelated
# self-signed certificate (a server the client must not trust). Valid for 100 years.
set -eu
cd "$(dirname "$0")"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 36500 \
  -subj "/CN=gateway test CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign"
for n in server server2; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.csr -subj "/CN=$n.test"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > $n.ext
  openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 36500 -extfile $n.ext
  rm $n.csr $n.ext
done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem -days 36500 \
  -subj "/CN=untrusted" -addext "subjectAltName=IP:127.0.0.1"
rm -f ca.srl
