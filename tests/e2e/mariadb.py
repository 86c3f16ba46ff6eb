"""A private MariaDB server for the end-to-end tests and the benchmark.

MariaDB() installs a data directory with mariadb-install-db (once per Python
process, into a template that every instance copies: ~25 ms instead of
~1 s), starts mariadbd on a unix socket in a temporary directory AND on a
free loopback TCP port, and creates the users the tests need:

  root@localhost   no password (the socket only; used to set things up)
  sf               password SF_PASSWORD, ALL on every database
  ro               password RO_PASSWORD, SELECT only

Nothing here touches a system MariaDB: --no-defaults ignores /etc/mysql,
and the server listens only on its own socket and 127.0.0.1:PORT. Grants
are on (no --skip-grant-tables), so password and privilege errors are real.

Queries go through the `mariadb` command-line client in batch mode
(-N -B: tab-separated, no header), because Python has no MySQL driver
here. Values come back as text; NULL comes back as None.

available() says whether the binaries exist; tests skip with its reason
when they do not.
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

MARIADBD = shutil.which("mariadbd") or next(
    (p for p in ("/usr/sbin/mariadbd", "/usr/sbin/mysqld") if os.path.exists(p)), None)
INSTALL_DB = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
CLIENT = shutil.which("mariadb") or shutil.which("mysql")

SF_PASSWORD = "s3cr3t-pw!"
RO_PASSWORD = "r0-pw"

_template = None


def available():
    """(True, "") or (False, why not)."""
    missing = [name for name, path in (("mariadbd", MARIADBD),
                                       ("mariadb-install-db", INSTALL_DB),
                                       ("mariadb (client)", CLIENT)) if not path]
    if missing:
        return False, ("%s not installed (Debian: apt-get install mariadb-server "
                       "mariadb-client)" % ", ".join(missing))
    return True, ""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_root_args():
    return ["--user=root"] if os.geteuid() == 0 else []


def _make_template():
    """Run mariadb-install-db once per process; instances copy the result."""
    global _template
    if _template:
        return _template
    root = tempfile.mkdtemp(prefix="sf-mariadb-template-")
    atexit.register(shutil.rmtree, root, True)
    data = os.path.join(root, "data")
    r = subprocess.run([INSTALL_DB, "--no-defaults", "--datadir=" + data,
                        "--auth-root-authentication-method=normal", "--skip-test-db",
                        "--skip-name-resolve", "--innodb-log-file-size=8M",
                        *_as_root_args()],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("mariadb-install-db failed (%d):\n%s%s" %
                           (r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
    _template = data
    return data


class MariaDB:
    """One private mariadbd. Use start()/stop(), or `with MariaDB() as db:`."""

    def __init__(self, extra_args=()):
        self.extra_args = list(extra_args)
        self.tmp = None
        self.proc = None
        self.port = None

    # --- lifecycle --------------------------------------------------------
    def start(self, timeout=30):
        ok, why = available()
        if not ok:
            raise RuntimeError(why)
        template = _make_template()
        # Short path: a unix socket path must fit in 108 bytes.
        self.tmp = tempfile.mkdtemp(prefix="sf-mdb-")
        self.datadir = os.path.join(self.tmp, "data")
        shutil.copytree(template, self.datadir, symlinks=True)
        self.socket = os.path.join(self.tmp, "mysqld.sock")
        self.errlog = os.path.join(self.tmp, "error.log")
        self.port = _free_port()
        self._spawn(timeout)
        self.sql("CREATE USER 'sf'@'localhost' IDENTIFIED BY '%s';"
                 "CREATE USER 'sf'@'127.0.0.1' IDENTIFIED BY '%s';"
                 "GRANT ALL ON *.* TO 'sf'@'localhost';"
                 "GRANT ALL ON *.* TO 'sf'@'127.0.0.1';"
                 "CREATE USER 'ro'@'localhost' IDENTIFIED BY '%s';"
                 "CREATE USER 'ro'@'127.0.0.1' IDENTIFIED BY '%s';"
                 "GRANT SELECT ON *.* TO 'ro'@'localhost';"
                 "GRANT SELECT ON *.* TO 'ro'@'127.0.0.1';"
                 % (SF_PASSWORD, SF_PASSWORD, RO_PASSWORD, RO_PASSWORD))
        return self

    def _spawn(self, timeout):
        self.log = open(self.errlog, "a")
        self.proc = subprocess.Popen(
            [MARIADBD, "--no-defaults", "--datadir=" + self.datadir,
             "--socket=" + self.socket, "--port=%d" % self.port,
             "--bind-address=127.0.0.1", "--pid-file=" + os.path.join(self.tmp, "pid"),
             "--log-error=" + self.errlog, "--skip-name-resolve",
             "--innodb-buffer-pool-size=128M", "--innodb-log-file-size=8M",
             "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
             "--skip-log-bin", "--max-connections=200",
             *_as_root_args(), *self.extra_args],
            stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mariadbd exited with %s:\n%s" %
                                   (self.proc.returncode, self.error_log()[-3000:]))
            if os.path.exists(self.socket):
                r = subprocess.run([CLIENT, "--no-defaults", "-S", self.socket, "-uroot",
                                    "-N", "-B", "-e", "SELECT 1"],
                                   capture_output=True, text=True)
                if r.returncode == 0:
                    return
            time.sleep(0.02)
        raise RuntimeError("mariadbd did not start in %ds:\n%s" %
                           (timeout, self.error_log()[-3000:]))

    def error_log(self):
        try:
            with open(self.errlog) as f:
                return f.read()
        except OSError:
            return ""

    def kill9(self):
        """SIGKILL the server (a crash: no shutdown, InnoDB recovers on start)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._close_log()

    def restart(self, timeout=60):
        """Start the server again on the same datadir, socket and port."""
        if self.proc and self.proc.poll() is None:
            self.kill9()
        self._spawn(timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_log()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def _close_log(self):
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- URIs -------------------------------------------------------------
    def uri(self, db, user="sf", password=SF_PASSWORD, tcp=True):
        """mysql://user:password@127.0.0.1:PORT/db, or over the socket
        mysql://user:password@localhost/db?socket=PATH. password None
        leaves it out (then salesflow reads SALESFLOW_MYSQL_PASSWORD)."""
        cred = user if password is None else "%s:%s" % (user, password)
        if tcp:
            return "mysql://%s@127.0.0.1:%d/%s" % (cred, self.port, db)
        return "mysql://%s@localhost/%s?socket=%s" % (cred, db, self.socket)

    # --- queries ----------------------------------------------------------
    def sql(self, query, db=None, timeout=120):
        """Run query (may be several statements) as root over the socket;
        returns a list of rows (tuples of str or None) of the last result."""
        args = [CLIENT, "--no-defaults", "-S", self.socket, "-uroot", "-N", "-B",
                "--batch", "--raw"]
        if db:
            args.append("--database=" + db)
        r = subprocess.run(args, input=query, capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("mariadb: %s\n(query: %.300s)" % (r.stderr.strip(), query))
        rows = []
        for line in r.stdout.splitlines():
            rows.append(tuple(None if v == "NULL" else v for v in line.split("\t")))
        return rows

    def create_db(self, name):
        self.sql("CREATE DATABASE `%s`" % name)
        return name
