#!/usr/bin/env python3
# verified_pipe.py — a reference for workload 1 of bench/compare.sh: the least a sender and a receiver
# must do to move a file over mutual TLS 1.3 and store it verified and durable, as minisync promises,
# with nothing else (no protocol, no state, no resume). Run by compare.sh, not by hand.
#
#   verified_pipe.py receive PORT CERT KEY CA TARGET   accept one connection on 127.0.0.1:PORT; hash what
#        it sends with SHA-256 while writing it to TARGET with O_DIRECT (whole 1 MiB blocks from a
#        page-aligned buffer, as minisync-server writes large files), fsync TARGET; print the digest
#   verified_pipe.py send PORT CERT KEY CA FILE        read FILE, hash it with SHA-256 and send it;
#        print the negotiated cipher suite and the digest
#
# One thread on each side: together they can keep this machine's two cores busy. The suite is the
# OpenSSL default unless OPENSSL_CONF restricts it (compare.sh restricts it to TLS_AES_128_GCM_SHA256).
import hashlib
import mmap
import os
import socket
import ssl
import sys

CHUNK = 1 << 20
BLOCK = 4096


def tls_context(server, cert, key, ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = False
    return ctx


def receive(port, cert, key, ca, target):
    ctx = tls_context(True, cert, key, ca)
    with socket.create_server(("127.0.0.1", port)) as listener:
        conn, _ = listener.accept()
        with ctx.wrap_socket(conn, server_side=True, suppress_ragged_eofs=False) as tls:
            digest = hashlib.sha256()
            buffer = mmap.mmap(-1, CHUNK)
            view = memoryview(buffer)
            out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o600)
            filled = 0
            while True:
                n = tls.recv_into(view[filled:])
                filled += n
                if n > 0 and filled < CHUNK:
                    continue
                digest.update(view[:filled])
                if filled % BLOCK:
                    # The tail: O_DIRECT takes whole blocks only.
                    os.close(out)
                    out = os.open(target, os.O_WRONLY | os.O_APPEND)
                if filled:
                    os.write(out, view[:filled])
                filled = 0
                if n == 0:
                    break
            os.fsync(out)
            os.close(out)
            tls.unwrap()
            view.release()
            print(digest.hexdigest(), flush=True)


def send(port, cert, key, ca, path):
    ctx = tls_context(False, cert, key, ca)
    digest = hashlib.sha256()
    with socket.create_connection(("127.0.0.1", port)) as conn, ctx.wrap_socket(conn) as tls, \
            open(path, "rb", buffering=0) as source:
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        while True:
            n = source.readinto(buffer)
            if n == 0:
                break
            digest.update(view[:n])
            tls.sendall(view[:n])
        cipher = tls.cipher()[0]
        tls.unwrap()  # close_notify both ways: the receiver has had every byte
    print(cipher, digest.hexdigest(), flush=True)


def main(argv):
    if len(argv) == 7 and argv[1] == "receive":
        receive(int(argv[2]), argv[3], argv[4], argv[5], argv[6])
    elif len(argv) == 7 and argv[1] == "send":
        send(int(argv[2]), argv[3], argv[4], argv[5], argv[6])
    else:
        sys.exit("usage: see the header of bench/verified_pipe.py")


if __name__ == "__main__":
    main(sys.argv)
