# tests/free_ports.sh: sourced by the test scripts that start servers on loopback ports.
#
#   free_ports N    prints N distinct TCP ports on which nothing listens now, from 20000 up to the start
#                   of the kernel's ephemeral range (client connections take their local ports from that
#                   range, and could take a port between the pick and the server's bind); status 1 if it
#                   cannot find them (bounded: 200 tries per port)
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
    local want=$1 picked=" " count=0 p _ lo=20000 hi=32768
    read -r hi _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || hi=32768
    [ $((hi - lo)) -ge 1000 ] || { lo=10000 hi=20000; }
    for _ in $(seq 1 $((200 * want))); do
        [ "$count" -ge "$want" ] && break
        p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
        case $picked in *" $p "*) continue ;; esac
        port_busy "$p" && continue
        picked="$picked$p "
        count=$((count + 1))
    done
    [ "$count" -ge "$want" ] || return 1
    echo $picked
}
