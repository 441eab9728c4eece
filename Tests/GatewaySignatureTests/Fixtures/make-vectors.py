#!/usr/bin/env python3
"""Regenerates vectors.json: signature test vectors computed by the `openssl` command line
tool (not by our code, not by Python's hashlib), so the gateway's verifier is checked against
an independent implementation.

    cd Tests/GatewaySignatureTests/Fixtures && ./make-vectors.py

Needs OpenSSL 3 (`openssl dgst`, `openssl mac`, `openssl pkeyutl -rawin -digest sm3`).
sm2-test.key / sm2-test.pub are a TEST-ONLY key pair generated with
`openssl genpkey -algorithm SM2`; they protect nothing.
"""
import base64
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SM2_KEY = os.path.join(HERE, "sm2-test.key")
SM2_PUB = os.path.join(HERE, "sm2-test.pub")
DISTID = "1234567812345678"


def canonical(method, target, dt, key, msgid, body):
    parts = [method.encode(), target.encode(), dt.encode()]
    if key is not None:
        parts.append(key.encode())
    parts.append(msgid.encode())
    if body:
        parts.append(body)
    return b"\n".join(parts)


def openssl(args, data):
    return subprocess.run(["openssl"] + args, input=data, capture_output=True, check=True).stdout


def dgst(alg, data):
    out = openssl(["dgst", "-" + alg, "-r"], data).decode()
    return out.split()[0]


def hmac(alg, key, data):
    out = openssl(["mac", "-digest", alg, "-macopt", "hexkey:" + key.encode().hex(), "HMAC"], data).decode()
    return out.strip()


def sm2_sign(data):
    with tempfile.NamedTemporaryFile() as f, tempfile.NamedTemporaryFile() as sig:
        f.write(data)
        f.flush()
        subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", SM2_KEY, "-rawin", "-digest", "sm3",
                        "-pkeyopt", "distid:" + DISTID, "-in", f.name, "-out", sig.name],
                       check=True, capture_output=True)
        # Check with the CLI too, so a vector is known good before it is committed.
        subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", SM2_PUB, "-rawin", "-digest", "sm3",
                        "-pkeyopt", "distid:" + DISTID, "-in", f.name, "-sigfile", sig.name],
                       check=True, capture_output=True)
        return open(sig.name, "rb").read()


PAYMENT = ('{"eventCode":"Payment","metadata":"order 42","payment":{"status":"Success",'
           '"merchantTransInfo":{"merchantTransID":"MT0001"},"transAmount":{"currency":"USD","value":"10.00"}}}').encode()
UNICODE = '{"eventCode":"Refund","paymentMethod":{"card":{"holderName":"张伟 Müller"}}}'.encode()

CASES = [
    # (name, target, datetime, key, msgid, body)
    ("readme-example", "/webhooks/evo", "2026-11-22T10:00:00+08:00", "k3y", "0123456789abcdef0123456789abcdef",
     b'{"eventCode":"Payment"}'),
    ("payment", "/webhooks/evo", "2026-11-22T10:00:00+08:00", "evo-test-sign-key-0123456789", "2d21a5715c034efb7e0aa383b885fc7a", PAYMENT),
    ("query-string", "/webhooks/evo?tenant=acme&x=1", "2020-03-04T15:39:40Z08:00", "k3y", "abc", PAYMENT),
    ("unicode-body", "/hooks/refund", "2026-01-01T00:00:00Z", "key with spaces", "m-1", UNICODE),
    ("empty-body", "/webhooks/evo", "2026-11-22T10:00:00-05:00", "k3y", "empty", b""),
]


def main():
    vectors = []
    for name, target, dt, key, msgid, body in CASES:
        for st in ("SHA256", "SHA512", "HMAC-SHA256", "HMAC-SHA512", "SM2withSM3"):
            uses_key = st != "SM2withSM3"
            data = canonical("POST", target, dt, key if uses_key else None, msgid, body)
            if st == "SHA256":
                auth = dgst("sha256", data)
            elif st == "SHA512":
                auth = dgst("sha512", data)
            elif st == "HMAC-SHA256":
                auth = hmac("SHA256", key, data).upper()  # the provider sends HMAC hex in upper case
            elif st == "HMAC-SHA512":
                auth = hmac("SHA512", key, data).upper()
            else:
                sig = sm2_sign(data)
                vectors.append({"name": f"{name}/{st}/hex", "signType": st, "method": "POST", "target": target,
                                "dateTime": dt, "msgID": msgid, "key": None,
                                "bodyBase64": base64.b64encode(body).decode(), "authorization": sig.hex().upper()})
                auth = base64.b64encode(sig).decode()
            vectors.append({"name": f"{name}/{st}", "signType": st, "method": "POST", "target": target,
                            "dateTime": dt, "msgID": msgid, "key": key if uses_key else None,
                            "bodyBase64": base64.b64encode(body).decode(), "authorization": auth})
    with open(os.path.join(HERE, "vectors.json"), "w") as f:
        json.dump({"generatedBy": "make-vectors.py with the openssl CLI", "sm2Id": DISTID, "vectors": vectors}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(vectors)} vectors")


if __name__ == "__main__":
    main()
