# tests/free_ports.sh: sourced by the test scripts that start servers on loopback ports.
#
#   free_ports N    prints N distinct TCP ports in 20000-59999 on which nothing listens now; status 1 if
#                   it cannot find them (bounded: 200 tries per port)
#
# Ask for every port a test needs in one call: a port handed out is not bound until the server starts, so
# two separate calls (each in its own $(...) subshell, which forgets what the other picked) could return
# the same one.

port_busy() {
    if command -v ss >/dev/null; then
        ss -Htan 2>/dev/null | awk '{ print $4 }' | grep -Eq "[:.]$1\$"
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

free_ports() {
    local want=$1 picked=" " count=0 p _
    for _ in $(seq 1 $((200 * want))); do
        [ "$count" -ge "$want" ] && break
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        case $picked in *" $p "*) continue ;; esac
        port_busy "$p" && continue
        picked="$picked$p "
        count=$((count + 1))
    done
    [ "$count" -ge "$want" ] || return 1
    echo $picked
}
