"""Exit 0 when a MongoDB-wire server at HOST PORT answers `{ping: 1}` with ok: 1.

Used by scripts/services to wait for SecantusDB without needing a driver: it sends one OP_MSG
(opcode 2013) holding the BSON document {ping: 1, $db: "admin"} and looks for `ok: 1` in the
reply.
"""

import socket
import struct
import sys

OP_MSG = 2013


def bson(elements: bytes) -> bytes:
    return struct.pack("<i", len(elements) + 5) + elements + b"\x00"


def main() -> int:
    host, port = sys.argv[1], int(sys.argv[2])
    db = b"admin"
    body = bson(
        b"\x10ping\x00" + struct.pack("<i", 1)
        + b"\x02$db\x00" + struct.pack("<i", len(db) + 1) + db + b"\x00"
    )
    payload = struct.pack("<I", 0) + b"\x00" + body  # flagBits, section kind 0, document
    message = struct.pack("<iiii", 16 + len(payload), 1, 0, OP_MSG) + payload
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.settimeout(5)
            sock.sendall(message)
            header = b""
            while len(header) < 16:
                chunk = sock.recv(16 - len(header))
                if not chunk:
                    return 1
                header += chunk
            length, _, response_to, opcode = struct.unpack("<iiii", header)
            reply = b""
            while len(reply) < length - 16:
                chunk = sock.recv(length - 16 - len(reply))
                if not chunk:
                    return 1
                reply += chunk
    except OSError:
        return 1
    if opcode != OP_MSG or response_to != 1:
        return 1
    ok_double = b"\x01ok\x00" + struct.pack("<d", 1.0)
    ok_int = b"\x10ok\x00" + struct.pack("<i", 1)
    return 0 if ok_double in reply or ok_int in reply else 1


if __name__ == "__main__":
    sys.exit(main())
