"""Python MySQL drivers through Ward's MySQL listener, for Ward's tests.

    client.py pymysql         [OPTIONS]   # PyMySQL, pure Python
    client.py connector-c     [OPTIONS]   # mysql-connector-python's C extension (libmysqlclient)
    client.py connector-pure  [OPTIONS]   # mysql-connector-python's pure-Python protocol

OPTIONS (each falls back to an environment variable): --host (MYSQL_HOST, 127.0.0.1),
--port (MYSQL_PORT), --user (MYSQL_USER: the Ward user), --password (MYSQL_PWD: the Ward
password or token), --database (MYSQL_DATABASE: the Ward resource), --ca (MYSQL_CA: the PEM
file of Ward's CA).

Every mode logs in over TLS, checking Ward's certificate and name against the CA, runs the same
fixed script (a table, rows with a card number, a select, an update, a multi-statement, a
procedure's result sets, an error and a statement after it), then tries a login trusting only
the system's CAs, which must fail. Each step prints one JSON line; a step that fails when it
should not prints its error and the script exits 1.
"""

import argparse
import datetime
import decimal
import json
import os
import ssl
import sys
from importlib.metadata import version

CARD = "4111 1111 1111 1111"
ROWS = [(1, "apple", CARD), (2, "pear", None)]
PROCEDURE = (
    "CREATE PROCEDURE two_sets() BEGIN "
    "SELECT id FROM items ORDER BY id; SELECT count(*) AS n FROM items; END"
)


def emit(step, **fields):
    print(json.dumps({"step": step, **fields}, default=plain), flush=True)


def plain(v):
    """A cell as JSON: numbers stay numbers, text stays text."""
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (datetime.date, datetime.time, datetime.timedelta)):
        return str(v)
    raise TypeError(f"cannot show {type(v).__name__}")


def error_of(e):
    """What a driver says of an error: its number, SQLSTATE and message."""
    errno = getattr(e, "errno", None)
    sqlstate = getattr(e, "sqlstate", None)
    message = getattr(e, "msg", None) or str(e)
    args = getattr(e, "args", ())
    # PyMySQL's errors are (errno, message), with the SQLSTATE as an attribute alone.
    if errno is None and len(args) >= 2 and isinstance(args[0], int):
        errno, message = args[0], args[1]
    return {"type": type(e).__name__, "errno": errno, "sqlstate": sqlstate, "message": message}


class Step:
    """Runs one step; an error it did not expect ends the script after saying which step."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        if e is None:
            return False
        emit(self.name, failed=error_of(e))
        sys.exit(1)


def result_set(cursor):
    """The current result of `cursor`: its column names and rows."""
    if cursor.description is None:
        return {"columns": None, "affected": cursor.rowcount}
    return {
        "columns": [d[0] for d in cursor.description],
        "rows": [list(r) for r in cursor.fetchall()],
    }


def every_set(cursor):
    """The current result of `cursor` and every one after it."""
    sets = [result_set(cursor)]
    while cursor.nextset():
        sets.append(result_set(cursor))
    return sets


def connect_pymysql(a, ca):
    import pymysql
    from pymysql.constants import CLIENT

    return pymysql.connect(
        host=a.host,
        port=a.port,
        user=a.user,
        password=a.password,
        database=a.database,
        ssl_ca=ca,
        ssl_verify_cert=True,
        ssl_verify_identity=True,
        client_flag=CLIENT.MULTI_STATEMENTS,
        connect_timeout=10,
    )


def connect_connector(a, ca, pure):
    import mysql.connector

    return mysql.connector.connect(
        host=a.host,
        port=a.port,
        user=a.user,
        password=a.password,
        database=a.database,
        ssl_ca=ca,
        ssl_verify_cert=True,
        ssl_verify_identity=True,
        use_pure=pure,
        connection_timeout=10,
    )


def connect(a, ca):
    if a.mode == "pymysql":
        return connect_pymysql(a, ca)
    return connect_connector(a, ca, pure=a.mode == "connector-pure")


def describe(a, conn):
    """Which driver and protocol implementation runs, and the TLS the session has."""
    if a.mode == "pymysql":
        # pymysql.__version__ is the mysqlclient version it stands in for, not its own.
        sock = conn._sock
        tls = sock.version() if isinstance(sock, ssl.SSLSocket) else None
        return {"driver": "PyMySQL", "version": version("PyMySQL"), "tls": tls}
    import mysql.connector

    # The session's own TLS, from the driver: SHOW STATUS would go through Ward to the server
    # and tell how Ward reached it, not how this client reached Ward.
    if a.mode == "connector-c":
        tls = conn._cmysql.get_ssl_cipher()
    else:
        sock = conn._socket.sock
        tls = sock.version() if isinstance(sock, ssl.SSLSocket) else None
    return {
        "driver": "mysql-connector-python",
        "version": version("mysql-connector-python"),
        "cext": mysql.connector.HAVE_CEXT,
        "connection": type(conn).__name__,
        "tls": tls,
    }


def script(a, conn):
    cur = conn.cursor()
    with Step("create"):
        cur.execute("CREATE TABLE items (id int PRIMARY KEY, name text, card varchar(32))")
        emit("create", affected=cur.rowcount)
    with Step("insert"):
        # Parameters the driver quotes into the text itself (the text protocol).
        cur.execute(
            "INSERT INTO items (id, name, card) VALUES (%s, %s, %s), (%s, %s, %s)",
            [v for row in ROWS for v in row],
        )
        conn.commit()
        emit("insert", affected=cur.rowcount)
    with Step("select"):
        cur.execute("SELECT id, name, card FROM items ORDER BY id")
        emit("select", **result_set(cur))
    with Step("update"):
        cur.execute("UPDATE items SET name = %s WHERE id = %s", ("banana", 2))
        conn.commit()
        emit("update", affected=cur.rowcount)
    with Step("multi"):
        cur.execute("SELECT 1 AS a; SELECT 'two' AS b, 2 AS c")
        emit("multi", sets=every_set(cur))
    with Step("procedure"):
        cur.execute(PROCEDURE)
        cur.execute("CALL two_sets()")
        # The last set of a CALL is its status (no columns).
        emit("procedure", sets=[s for s in every_set(cur) if s.get("columns")])
    try:
        cur.execute("SELECT * FROM no_such_table")
        cur.fetchall()
        emit("error", failed={"message": "no error"})
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - any driver's error class
        emit("error", **error_of(e))
    with Step("after_error"):
        cur.execute("SELECT 'still here' AS s")
        emit("after_error", **result_set(cur))
    cur.close()
    conn.close()


def untrusted(a):
    """A login trusting only the system's CAs, not Ward's: the driver must refuse it."""
    system = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    try:
        conn = connect(a, system)
    except Exception as e:  # noqa: BLE001 - any driver's error class
        emit("untrusted", refused=True, error=error_of(e)["message"])
        return
    conn.close()
    emit("untrusted", refused=False)
    sys.exit(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    p.add_argument("mode", choices=["pymysql", "connector-c", "connector-pure"])
    p.add_argument("--host", default=env("MYSQL_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=env("MYSQL_PORT"))
    p.add_argument("--user", default=env("MYSQL_USER"))
    p.add_argument("--password", default=env("MYSQL_PWD"))
    p.add_argument("--database", default=env("MYSQL_DATABASE"))
    p.add_argument("--ca", default=env("MYSQL_CA"))
    a = p.parse_args()
    missing = [k for k in ("port", "user", "password", "database", "ca") if getattr(a, k) is None]
    if missing:
        p.error("missing " + ", ".join(missing))

    with Step("connect"):
        conn = connect(a, a.ca)
        emit("connect", **describe(a, conn))
    script(a, conn)
    untrusted(a)
    emit("done")


if __name__ == "__main__":
    main()
