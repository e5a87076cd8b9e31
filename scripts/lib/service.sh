# service.sh: helpers shared by the scripts that start disposable services
# (pg.sh, versitygw.sh, moto.sh). Source it; it defines functions only.

# free_port prints a loopback TCP port nobody listens on.
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "$(basename "$0"): no free port found" >&2
	exit 1
}

# stop_pid stops the process whose pid is in the file $1: TERM, up to 5 s
# to exit, then KILL; the pid file is removed.
stop_pid() {
	local pidfile=$1 pid
	if [ -f "$pidfile" ]; then
		pid=$(cat "$pidfile")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile"
}
