"""Drive the RouterOS simulator with Debian's python3-librouteros (a client we did not write).

Usage: librouteros-client.py HOST PORT tls|plain  -> prints one JSON object with what it observed.
"""
import json
import ssl
import sys

import librouteros
from librouteros.exceptions import FatalError, TrapError
from librouteros.query import Key

host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
kwargs = {"port": port, "timeout": 5}
if mode == "tls":
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    kwargs["ssl_wrapper"] = lambda sock: ctx.wrap_socket(sock, server_hostname=host)

out = {}
try:
    librouteros.connect(host, "admin", "wrong", **kwargs)
    out["bad_login"] = "accepted"
except TrapError as e:
    out["bad_login"] = str(e)

api = librouteros.connect(host, "admin", "xyz", **kwargs)
out["identity"] = list(api("/system/identity/print"))
out["version"] = list(api.path("system", "resource").select(Key("version")))
users = api.path("ip", "hotspot", "user")
out["ret"] = users.add(name="PT-PY001", password="abc1", profile="default", comment="desde python", **{"limit-uptime": "1h"})
out["query"] = list(users.select(Key(".id"), Key("name"), Key("password"), Key("limit-uptime")).where(Key("name") == "PT-PY001"))
out["empty"] = list(users.select(Key("name")).where(Key("name") == "nadie"))
try:
    users.add(name="PT-PY001")
    out["dup"] = "accepted"
except TrapError as e:
    out["dup"] = str(e)
users.update(**{".id": out["ret"], "comment": "cambiado"})
out["after_update"] = [u["comment"] for u in users if u["name"] == "PT-PY001"]
users.remove(out["ret"])
out["after_remove"] = [u["name"] for u in users]
try:
    list(api("/quit"))
except FatalError as e:
    out["fatal"] = str(e)
json.dump(out, sys.stdout, default=str)
