"""A real SMTP server for Flare's tests: accepts every message and stores it, never relays.

Usage: smtp_sink.py PORT DIR

Each message becomes DIR/<n>.eml: the raw data as received, preceded by X-Sink-Mail-From and X-Sink-Rcpt-To
headers carrying the envelope. A file is written under a temporary name and renamed, so a reader never sees half
a message. Recipients whose local part starts with "reject" are refused for good (550), and those starting
with "busy" for now (451), so tests can reach the mailer's permanent and transient paths. Runs until killed. Needs aiosmtpd (installed into .tools/venv by scripts/lib.sh).
"""

import asyncio
import itertools
import os
import sys

from aiosmtpd.smtp import SMTP


class Store:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 No such mailbox here"
        if local.startswith("busy"):
            return "451 4.3.2 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        head = "X-Sink-Mail-From: {}\r\nX-Sink-Rcpt-To: {}\r\n".format(
            envelope.mail_from, ", ".join(envelope.rcpt_tos)
        ).encode()
        tmp = os.path.join(self.directory, ".{}.tmp".format(n))
        with open(tmp, "wb") as f:
            f.write(head + envelope.original_content)
        os.rename(tmp, os.path.join(self.directory, "{:06d}.eml".format(n)))
        return "250 Message accepted for delivery"


async def main(port, directory):
    os.makedirs(directory, exist_ok=True)
    handler = Store(directory)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="flare-sink"), "127.0.0.1", port)
    print("SMTP sink listening on 127.0.0.1:{}, storing into {}".format(port, directory), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: smtp_sink.py PORT DIR")
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
