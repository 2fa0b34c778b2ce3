# Sourced by scripts/test and scripts/bench-stores: start_postgres starts
# a throwaway PostgreSQL server (installing the Debian package when
# missing) and exports KUMO_TEST_POSTGRES; it is stopped and deleted on exit.

fail() {
	echo "scripts/test: $*" >&2
	exit 1
}

# as_root runs a command as root: directly, or through sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		fail "installing PostgreSQL needs root (or sudo); install the package postgresql, or set KUMO_TEST_POSTGRES to a server's URL"
	fi
}

# pg_bindir prints the directory of the newest installed initdb and pg_ctl.
pg_bindir() {
	local dir
	for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
			echo "$dir"
			return
		fi
	done
	if command -v pg_config >/dev/null; then
		dir=$(pg_config --bindir)
		if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
			echo "$dir"
			return
		fi
	fi
	if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
		dirname "$(command -v initdb)"
	fi
}

# free_port prints a TCP port of 127.0.0.1 that nothing listens on, below
# the kernel's range of ephemeral ports (which outgoing connections take).
free_port() {
	local port i low=32768
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	[ "$low" -gt 11000 ] || low=32768
	for i in $(seq 1 50); do
		port=$((10000 + RANDOM % (low - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	fail "found no free TCP port on 127.0.0.1"
}

pg_dir=""
pg_run=()
stop_postgres() {
	if [ -n "$pg_dir" ]; then
		if [ -f "$pg_dir/data/postmaster.pid" ]; then
			echo "== stopping the test PostgreSQL server"
			(cd "$pg_dir" && "${pg_run[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null) ||
				echo "scripts/test: could not stop the PostgreSQL server in $pg_dir" >&2
		fi
		rm -rf "$pg_dir"
	fi
}

start_postgres() {
	pg_bin=$(pg_bindir)
	if [ -z "$pg_bin" ]; then
		echo "== PostgreSQL is not installed: installing the Debian package postgresql (apt-get)"
		command -v apt-get >/dev/null || fail "PostgreSQL is not installed and there is no apt-get: install PostgreSQL, or set KUMO_TEST_POSTGRES"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
			fail "apt-get update failed"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql ||
			fail "apt-get install postgresql failed"
		pg_bin=$(pg_bindir)
		[ -n "$pg_bin" ] || fail "postgresql is installed, but initdb and pg_ctl are not under /usr/lib/postgresql/*/bin"
	fi

	pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/kumo-test-pg.XXXXXX") || fail "cannot create a temporary directory"
	trap stop_postgres EXIT
	trap 'exit 130' INT TERM
	if [ "$(id -u)" -eq 0 ]; then
		# initdb and postgres refuse to run as root: the package's system
		# user owns the cluster.
		id postgres >/dev/null 2>&1 || fail "running as root, but there is no 'postgres' system user to run the server as"
		chown postgres: "$pg_dir"
		pg_run=(runuser -u postgres --)
	else
		pg_run=(env)
	fi
	echo "== starting a throwaway PostgreSQL server ($pg_bin) in $pg_dir"
	# The cluster trusts connections from this machine; the locale is C,
	# so that nothing depends on the locales installed.
	(cd "$pg_dir" && "${pg_run[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust \
		--encoding=UTF8 --locale=C >"$pg_dir/initdb.log" 2>&1) ||
		{ cat "$pg_dir/initdb.log" >&2; fail "initdb failed"; }
	local port attempt
	for attempt in 1 2 3 4 5; do
		port=$(free_port) && [ -n "$port" ] || fail "found no free TCP port on 127.0.0.1"
		if (cd "$pg_dir" && "${pg_run[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$pg_dir -c max_connections=300" \
			start >"$pg_dir/pg_ctl.log" 2>&1); then
			export KUMO_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
			export KUMO_REQUIRE_POSTGRES=1
			echo "== PostgreSQL listens on 127.0.0.1:$port: KUMO_TEST_POSTGRES=$KUMO_TEST_POSTGRES"
			return
		fi
		echo "scripts/test: the PostgreSQL server did not start on port $port (attempt $attempt):" >&2
		tail -n 5 "$pg_dir/server.log" >&2 || true
	done
	fail "could not start the PostgreSQL server; its log is above"
}

