#!/bin/bash
# lab.sh: the payment system's pods as real processes on this machine, with the simulator's faults injected
# by the kernel's own mechanisms, driven by bin/loadgen. Root only. See docs/lab.md.
#
#   lab/lab.sh run [bin/sim options]    one scenario: build, run, print bin/sim's report, tear down
#   lab/lab.sh cleanup                  remove whatever a killed lab left behind
#   lab/lab.sh check                    exit 1 if anything of the lab is left on the machine
#   lab/lab.sh hook start|stop|collect|begin ID   (called by bin/loadgen inside a run; needs LAB_DIR)
#
# What it builds (names all start with pc-lab, so cleanup and the leak check know what is ours):
#   netns pc-lab-node      a bridge br0 (10.244.0.1/16, 192.168.49.254/24), IP forwarding, and the nftables
#                          table `ip pclab`: kube-proxy-like DNAT for the Service IPs (numgen random over the
#                          READY backends, per connection), the chaos rules, the fault ledger's counters
#   netns pc-lab-<pod>     one per pod (payment-0.. from the plan's replica counts), eth0 = the pod's link to
#                          br0 (below) with the pod IP as a /32 and the node as gateway, so every packet
#                          between pods crosses the node's IP layer (conntrack, DNAT, the chaos rules) as on
#                          a CNI node; an nftables table `ip pclabpod` for partitions (OUTPUT and INPUT)
#   netns pc-lab-client    the load generator, 192.168.49.1
#   the wire (LAB_WIRE)    how eth0 reaches br0, chosen once per lab (lab_begin):
#                          labwire  (kernel without sch_netem: this machine) eth0 is a TAP device, and so is
#                                   its port on br0; bin/labwire forwards between them and runs netem and tbf
#                                   (faults/, the kernel's algorithms) on the pod's egress. The client too.
#                          kernel   (kernel with sch_netem) a veth; netem and tbf are tc qdiscs on the pod's
#                                   eth0, as chaos-daemon installs them (root, or prio bands behind nftables
#                                   `meta priority` for a filter)
#                          nft      a veth, and loss only, dropped by nftables in the node (the lab before the
#                                   wire existed; kept to compare the two)
#   cgroups (v1)           cpu/pc-lab-<pod> (cfs_quota_us from the pod's CPU limit, period 100 ms),
#                          memory/pc-lab-<pod> (limit), cpuacct/pc-lab-<pod>/{app,stress/a<action>} (CPU
#                          accounting; each StressChaos action's stressors apart, so each stops alone),
#                          pids/pc-lab (every process the lab starts, for the cleanup)
#   LAB_DIR                a temporary directory: plan, pod logs, journals, state files
# The Service IPs are also local addresses of the node: a connection to a Service with no ready endpoint
# is not DNAT-ed, reaches the node's closed port and is refused, as kube-proxy's reject rule does.
#
# Faults (from the plan that bin/loadgen writes for the same options and seed, so the lab injects the
# simulator's actions on the pods the simulator selected):
#   netem        loss, correlation, delay, jitter, duplicate, corrupt, reorder: on the sender pods' egress
#                (the wire), filtered on the destination as the sender wrote it (pod IPs, externalTargets,
#                the Service IP for bin/sim's --link), before the node's DNAT; with LAB_WIRE=nft, loss only,
#                dropped in the node's prerouting hook at raw priority with nftables numgen (i.i.d.)
#   bandwidth    tbf: the kernel's own qdisc on the pod's eth0 where it has sch_tbf and the action has no
#                filter; bin/labwire's tbf otherwise
#   partition    nftables in the pods' namespaces, as Chaos Mesh's iptables chains: the sender's OUTPUT
#                drops (the send fails with EPERM), the receiver's INPUT drops packets from the other side
#   CPU stress   stress-ng --cpu W --cpu-load L --cpu-load-slice 10 --cpu-method sqrt in the pod's cgroups
#                (it writes itself into the cgroups before exec: it never runs outside them)
#   memory       stress-ng --vm W --vm-bytes SIZE --vm-hang 0 (0.15.06 divides SIZE among the workers; touch
#                once, then hold) in the pod's cgroups
#   pod kill     SIGKILL of everything in the pod's cgroup, its network namespace deleted (its IP vanishes:
#                a SYN DNAT-ed to it gets "host unreachable" after neighbour resolution fails), endpoints
#                updated after the endpoint delay; the replacement (same IP: a deviation from Kubernetes,
#                whose replacement gets a new one) starts after the restart and start delays, is ready
#                when /ready answers after the readiness delay, and rejoins the Service after the endpoint
#                delay. While it is gone, calls to its pod IP are refused at once, as the simulator does
#                for a pod whose headless DNS record is gone.
set -u
export LC_ALL=C

LAB_SH=$(readlink -f "${BASH_SOURCE[0]}")
LAB_HERE=$(dirname "$LAB_SH")
LAB_ROOT=$(cd "$LAB_HERE/.." && pwd)
LAB_BIN=${PC_BIN_DIR:-$LAB_ROOT/bin}
CG=/sys/fs/cgroup
NODE=pc-lab-node
CLIENT=pc-lab-client
CLIENT_IP=192.168.49.1
NODE_IP=10.244.0.1
THREADS=${LAB_THREADS:-8}          # k8s/deployment.yaml: THREADS "8" for every service
# cpu.shares of the pods' and the load generator's groups: other jobs on this machine (compilers, tests)
# would otherwise take CPU time from the pods that the simulator's node (2 CPUs, nothing but the pods)
# never loses; 262144 is the largest weight (the measurement helper's probes use the same). The quota
# (the pod's CPU limit) is unchanged: shares only decide who runs first below it.
SHARES=${LAB_SHARES:-262144}
LOG_LEVEL=${LAB_LOG_LEVEL:-warn}  # keep log I/O out of the measurement

lab_log() { echo "lab: $*" >&2; }
lab_die() { echo "lab: error: $*" >&2; exit 2; }

ns_exec() { local ns=$1; shift; nsenter --net=/run/netns/"$ns" "$@"; }
node_nft() { ns_exec "$NODE" nft "$@"; }

# ---------------------------------------------------------------------------------------------------
# preconditions

lab_require() {
	if [ "$(id -u)" != 0 ]; then
		echo "lab: must run as root: it creates network namespaces, veths, nftables rules and cgroups, and" \
			"moves processes into cgroups (run it as root, e.g. make fidelity-quick as root)" >&2
		exit 2
	fi
	local t
	for t in ip nft nsenter stress-ng curl; do
		command -v "$t" >/dev/null || lab_die "needs $t (Debian: apt-get install -y iproute2 nftables util-linux stress-ng curl)"
	done
	for t in cpu cpuacct memory pids; do
		[ -d "$CG/$t" ] || lab_die "needs the cgroup v1 $t hierarchy at $CG/$t (this lab does not drive cgroup v2)"
	done
	[ -x "$LAB_BIN/loadgen" ] && [ -x "$LAB_BIN/payment-service" ] || lab_die "build first: make (no $LAB_BIN/loadgen)"
	ip netns list 2>/dev/null | grep -q '^pc-lab' && lab_die "a lab is already running (or was left behind: $LAB_SH cleanup)"
	return 0
}

# 0 when this kernel has the qdisc KIND (tried in a scratch namespace, never on the host's devices)
lab_has_qdisc() {
	local ns=pc-lab-qdiscprobe r=1
	ip netns add $ns 2>/dev/null || return 1
	ip -n $ns link set lo up
	case $1 in
	netem) ns_exec $ns tc qdisc add dev lo root netem loss 1% 2>/dev/null && r=0 ;;
	tbf) ns_exec $ns tc qdisc add dev lo root tbf rate 1mbit burst 10k limit 10k 2>/dev/null && r=0 ;;
	esac
	ip netns del $ns
	return $r
}

# The wire for this lab (LAB_WIRE=auto|labwire|kernel|nft, see the header): auto takes the kernel's
# qdiscs where it has sch_netem, else bin/labwire. Kept in LAB_DIR/wire.mode for the hooks.
lab_choose_wire() {
	local has_netem=0
	HAVE_TBF=0
	lab_has_qdisc netem && has_netem=1
	lab_has_qdisc tbf && HAVE_TBF=1
	WIRE=${LAB_WIRE:-auto}
	[ "$WIRE" = auto ] && { [ $has_netem = 1 ] && WIRE=kernel || WIRE=labwire; }
	case $WIRE in
	labwire)
		[ -c /dev/net/tun ] || lab_die "LAB_WIRE=labwire needs /dev/net/tun (TAP devices)"
		[ -x "$LAB_BIN/labwire" ] || lab_die "build first: make (no $LAB_BIN/labwire)"
		;;
	kernel) [ $has_netem = 1 ] || lab_die "LAB_WIRE=kernel: this kernel has no sch_netem (use labwire)" ;;
	nft) ;;
	*) lab_die "LAB_WIRE is auto, labwire, kernel or nft, not \"$WIRE\"" ;;
	esac
	PURGE=${LAB_WIRE_PURGE:-1}
	echo "$WIRE $HAVE_TBF $PURGE" >"$LAB_DIR/wire.mode"
	lab_log "wire: $WIRE (sch_netem: $([ $has_netem = 1 ] && echo yes || echo no), sch_tbf: $([ $HAVE_TBF = 1 ] && echo yes || echo no))"
}

# ---------------------------------------------------------------------------------------------------
# bookkeeping: plan, pods, addresses

lab_load_plan() { # shellcheck disable=SC1091
	declare -ga ACT_NAME ACT_KIND ACT_START_MS ACT_END_MS ACT_PODS ACT_NET ACT_LOSS_PCT ACT_CORR_PCT \
		ACT_DELAY_US ACT_JITTER_US ACT_DUP_PCT ACT_CORRUPT_PCT ACT_CPU_WORKERS ACT_CPU_LOAD ACT_MEM_WORKERS \
		ACT_MEM_BYTES ACT_RESTART_DELAY_MS ACT_WIRE ACT_TC RULE_ACT RULE_HOOK RULE_SRC RULE_DST RULE_NETS RULE_ANY
	source "$LAB_DIR/plan.sh"
	read -r WIRE HAVE_TBF PURGE <"$LAB_DIR/wire.mode" 2>/dev/null || { WIRE=nft; HAVE_TBF=0; PURGE=1; }
}

# svc_index NAME -> 0/1/2
svc_index() { local i; for i in 0 1 2; do [ "${PLAN_SERVICES[$i]}" = "$1" ] && { echo $i; return; }; done; echo -1; }
pod_svc() { echo "${1%-*}"; }
pod_ip() { cat "$LAB_DIR/ip/$1"; }

# Every pod in order, with its address: the simulator's IPAM (10.244.0.10, .11, ... in pod order).
lab_assign_pods() {
	mkdir -p "$LAB_DIR/ip" "$LAB_DIR/state" "$LAB_DIR/pid" "$LAB_DIR/restarts" "$LAB_DIR/oom" "$LAB_DIR/logs" \
		"$LAB_DIR/journal" "$LAB_DIR/stress" "$LAB_DIR/ready"
	: >"$LAB_DIR/pods"
	local s k n=10
	for s in 0 1 2; do
		for ((k = 0; k < PLAN_REPLICAS[s]; k++)); do
			local pod=${PLAN_SERVICES[$s]}-$k
			echo "$pod" >>"$LAB_DIR/pods"
			echo "10.244.$((n / 256)).$((n % 256))" >"$LAB_DIR/ip/$pod"
			n=$((n + 1))
		done
	done
	LAB_PODS=$(cat "$LAB_DIR/pods")
}

# ---------------------------------------------------------------------------------------------------
# the node, the pods' network namespaces, the cgroups

lab_node_up() {
	ip netns add $NODE
	ip -n $NODE link set lo up
	ip -n $NODE link add br0 type bridge
	ip -n $NODE addr add $NODE_IP/16 dev br0
	ip -n $NODE addr add 192.168.49.254/24 dev br0
	ip -n $NODE link set br0 up
	local v
	for v in "${PLAN_VIPS[@]}"; do ip -n $NODE addr add "$v/32" dev lo; done
	ns_exec $NODE sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
		net.ipv4.conf.br0.send_redirects=0 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.br0.rp_filter=0
	lab_nft_base
	# the client
	ip netns add $CLIENT
	link_up client $CLIENT vcl
	ip -n $CLIENT link set lo up
	ip -n $CLIENT addr add $CLIENT_IP/24 dev eth0
	ip -n $CLIENT link set eth0 up
	ip -n $CLIENT route add default via 192.168.49.254
}

# eth0 in namespace NS and its port NODEIF on the node's bridge: a veth pair, or two TAP devices of the wire.
link_up() {
	local name=$1 ns=$2 nodeif=$3
	if [ "$WIRE" = labwire ]; then
		wire_ctl port add "$name" "/run/netns/$ns" eth0 "/run/netns/$NODE" "$nodeif" >/dev/null ||
			lab_die "bin/labwire cannot add the port of $name"
	else
		ip -n $NODE link add "$nodeif" type veth peer name eth0 netns "$ns"
	fi
	ip -n $NODE link set "$nodeif" master br0 up
}

# The pod's own nftables table: partitions (OUTPUT, INPUT) and, with kernel qdiscs, the CLASSIFY rules.
pod_nft_base() {
	{
		echo "table ip pclabpod {"
		echo "  chain output { type filter hook output priority filter; policy accept; }"
		echo "  chain input { type filter hook input priority filter; policy accept; }"
		echo "  chain classify { type filter hook output priority mangle; policy accept; }"
		echo "}"
	} | ns_exec "pc-lab-$1" nft -f - || lab_die "cannot load the nftables table of $1"
}

# The pod's namespace and link (also for a replacement pod).
pod_net_up() {
	local pod=$1 ip veth
	ip=$(pod_ip "$pod")
	veth=v${ip##*.}
	ip netns add "pc-lab-$pod"
	ip -n "pc-lab-$pod" link set lo up
	link_up "$pod" "pc-lab-$pod" "$veth"
	pod_nft_base "$pod"
	ip -n "pc-lab-$pod" addr add "$ip/32" dev eth0
	ip -n "pc-lab-$pod" link set eth0 up
	ip -n "pc-lab-$pod" route add $NODE_IP dev eth0 scope link
	ip -n "pc-lab-$pod" route add default via $NODE_IP dev eth0
	# the node forgets the old MAC of a re-created pod at once, as a new pod's first ARP would teach it
	ip -n $NODE neigh del "$ip" dev br0 2>/dev/null || true
}

pod_cgroups_up() {
	local pod=$1 s
	s=$(svc_index "$(pod_svc "$pod")")
	mkdir -p "$CG/cpu/pc-lab-$pod" "$CG/cpuacct/pc-lab-$pod/app" "$CG/cpuacct/pc-lab-$pod/stress" "$CG/memory/pc-lab-$pod"
	echo 100000 >"$CG/cpu/pc-lab-$pod/cpu.cfs_period_us"
	echo "${PLAN_CPU_QUOTA_US[$s]}" >"$CG/cpu/pc-lab-$pod/cpu.cfs_quota_us"
	echo "$SHARES" >"$CG/cpu/pc-lab-$pod/cpu.shares"
	echo "${PLAN_MEM_LIMIT[$s]}" >"$CG/memory/pc-lab-$pod/memory.limit_in_bytes"
}

# ---------------------------------------------------------------------------------------------------
# nftables in the node namespace

lab_nft_base() {
	local s svc
	{
		echo "table ip pclab {"
		echo "  set dead { type ipv4_addr; }"
		for s in 0 1 2; do
			svc=${PLAN_SERVICES[$s]}
			echo "  set p_$svc { type ipv4_addr; }"
			echo "  chain svc_$svc {"
			echo "  }"
		done
		echo "  chain chaos {"
		echo "  }"
		echo "  chain ledger_pre {"
		echo "    type filter hook prerouting priority -310; policy accept;"
		echo "  }"
		echo "  chain chaos_pre {"
		echo "    type filter hook prerouting priority raw; policy accept;"
		echo "    jump chaos"
		echo "  }"
		echo "  chain ledger_post {"
		echo "    type filter hook prerouting priority -290; policy accept;"
		echo "  }"
		echo "  chain mark_dead {"
		echo "    type filter hook prerouting priority -150; policy accept;"
		echo "    ip daddr @dead meta mark set meta mark or 0x1"
		echo "  }"
		echo "  chain nat_pre {"
		echo "    type nat hook prerouting priority dstnat; policy accept;"
		for s in 0 1 2; do
			echo "    ip daddr ${PLAN_VIPS[$s]} tcp dport ${PLAN_PORTS[$s]} jump svc_${PLAN_SERVICES[$s]}"
		done
		echo "  }"
		# kube-proxy's KUBE-FORWARD drops what conntrack calls INVALID (a segment outside the window it
		# tracks, as heavy loss and retransmission produce): such a reply would skip the reverse NAT and reach
		# the client from the pod's own IP, which the client answers with a RST to that pod IP
		# (kubernetes/kubernetes#74839; kept unless kube-proxy runs with --conntrack-tcp-be-liberal).
		echo "  counter ct_invalid { }"
		echo "  chain forward_filter {"
		echo "    type filter hook forward priority filter; policy accept;"
		echo "    ct state invalid counter name \"ct_invalid\" drop"
		echo "    meta mark & 0x1 == 0x1 reject with tcp reset"
		echo "  }"
		echo "}"
	} | node_nft -f - || lab_die "cannot load the node's nftables table"
}

# The fault ledger: per (sender, destination as written), packets seen before the chaos rules (pre),
# after them (post), and after them with the fault mark (faulted but not dropped).
lab_nft_ledger() {
	local srcs="client" dsts="client" s svc src dst
	for s in 0 1 2; do
		svc=${PLAN_SERVICES[$s]}
		srcs="$srcs $svc"
		dsts="$dsts $svc-vip $svc-pod"
	done
	{
		echo "flush chain ip pclab ledger_pre"
		echo "flush chain ip pclab ledger_post"
		for src in $srcs; do
			for dst in $dsts; do
				local m="" n=l_${src}_${dst//-/_}
				case $src in client) m="ip saddr $CLIENT_IP" ;; *) m="ip saddr @p_$src" ;; esac
				case $dst in
				client) m="$m ip daddr $CLIENT_IP" ;;
				*-vip) m="$m ip daddr ${PLAN_VIPS[$(svc_index "${dst%-vip}")]}" ;;
				*-pod) m="$m ip daddr @p_${dst%-pod}" ;;
				esac
				echo "add counter ip pclab ${n}_pre"
				echo "add counter ip pclab ${n}_post"
				echo "add counter ip pclab ${n}_postf"
				echo "add rule ip pclab ledger_pre $m counter name \"${n}_pre\""
				echo "add rule ip pclab ledger_post $m counter name \"${n}_post\""
				echo "add rule ip pclab ledger_post $m meta mark & 0x2 == 0x2 counter name \"${n}_postf\""
			done
		done
	} | node_nft -f - || lab_die "cannot load the ledger rules"
}

lab_nft_pod_sets() {
	local s svc pod ips
	for s in 0 1 2; do
		svc=${PLAN_SERVICES[$s]}
		ips=""
		for pod in $LAB_PODS; do [ "$(pod_svc "$pod")" = "$svc" ] && ips="$ips${ips:+, }$(pod_ip "$pod")"; done
		node_nft "flush set ip pclab p_$svc"
		[ -n "$ips" ] && node_nft "add element ip pclab p_$svc { $ips }"
	done
}

# The Service's DNAT: numgen random over the pods marked ready, one choice per new connection.
svc_sync() {
	local svc=$1 s map="" n=0 pod
	s=$(svc_index "$svc")
	for pod in $LAB_PODS; do
		[ "$(pod_svc "$pod")" = "$svc" ] && [ -e "$LAB_DIR/ready/$pod" ] || continue
		map="$map${map:+, }$n : $(pod_ip "$pod")"
		n=$((n + 1))
	done
	{
		echo "flush chain ip pclab svc_$svc"
		[ $n -gt 0 ] && echo "add rule ip pclab svc_$svc dnat to numgen random mod $n map { $map }"
	} | node_nft -f -
	echo "$(date +%s.%N) endpoints $svc: $n ready" >>"$LAB_DIR/events"
}

# ---------------------------------------------------------------------------------------------------
# pods: processes

pod_env() {
	local pod=$1 svc k s peers
	svc=$(pod_svc "$pod")
	k=${pod##*-}
	s=$(svc_index "$svc")
	echo "PORT=${PLAN_PORTS[$s]}"
	echo "POD_NAME=$pod"
	echo "REPLICA_INDEX=$k"
	echo "THREADS=$THREADS"
	echo "LOG_LEVEL=$LOG_LEVEL"
	echo "JOURNAL_PATH=$LAB_DIR/journal/$pod"
	local t up
	for t in 0 1 2; do
		up=$(echo "${PLAN_SERVICES[$t]}" | tr a-z A-Z)
		echo "${up}_REPLICAS=${PLAN_REPLICAS[$t]}"
		echo "${up}_SERVICE=http://${PLAN_VIPS[$t]}:${PLAN_PORTS[$t]}"
		peers=""
		local j
		for ((j = 0; j < PLAN_REPLICAS[t]; j++)); do
			peers="$peers${peers:+,}http://$(pod_ip "${PLAN_SERVICES[$t]}-$j"):${PLAN_PORTS[$t]}"
		done
		echo "${up}_PEERS=$peers"
	done
	local e
	for e in "${PLAN_ENV[@]}"; do echo "$e"; done
}

# Starts the service process in the pod's network namespace and cgroups.
pod_exec() {
	local pod=$1 svc
	svc=$(pod_svc "$pod")
	mapfile -t env < <(pod_env "$pod")
	(
		echo $BASHPID >"$CG/cpu/pc-lab-$pod/cgroup.procs"
		echo $BASHPID >"$CG/cpuacct/pc-lab-$pod/app/cgroup.procs"
		echo $BASHPID >"$CG/memory/pc-lab-$pod/cgroup.procs"
		exec nsenter --net=/run/netns/pc-lab-"$pod" env -i PATH=/usr/bin:/bin "${env[@]}" \
			"$LAB_BIN/$svc-service"
	) >>"$LAB_DIR/logs/$pod.log" 2>&1 &
	pid_tag $! >"$LAB_DIR/pid/$pod"
	disown $! 2>/dev/null
	echo running >"$LAB_DIR/state/$pod"
	echo "$(date +%s.%N) start $pod pid $!" >>"$LAB_DIR/events"
}

pod_ready_probe() { # 0 when GET /ready answers 200 within 1 s (the manifest's timeoutSeconds)
	local pod=$1 s code
	s=$(svc_index "$(pod_svc "$pod")")
	code=$(ns_exec $NODE curl -s -m 1 -o /dev/null -w '%{http_code}' "http://$(pod_ip "$pod"):${PLAN_PORTS[$s]}/ready" 2>/dev/null)
	[ "$code" = 200 ]
}

# Kills every process of the pod (service and stressors), by pid, from its cgroup.
pod_kill_procs() {
	local pod=$1 p i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		local left=0
		for p in $(cat "$CG/cpu/pc-lab-$pod/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; left=1; done
		[ $left = 0 ] && break
		sleep 0.05
	done
}

# A (re)started pod: wait for the start delay, run, probe readiness after the readiness delay and every
# period, then join the Service after the endpoint delay (the simulator's timeline).
# Starts the pod's process and waits for its readiness probe to pass (the kubelet's initialDelaySeconds,
# then one probe per periodSeconds). Returns 1 when the pod stopped being wanted meanwhile (killed again).
pod_exec_until_ready() {
	local pod=$1 s=$2
	pod_exec "$pod"
	sleep "$(ms_to_s "${PLAN_READY_DELAY_MS[$s]}")"
	until pod_ready_probe "$pod"; do
		[ "$(cat "$LAB_DIR/state/$pod")" = running ] || return 1
		sleep "$(ms_to_s "${PLAN_READY_PERIOD_MS[$s]}")"
	done
}

pod_boot_timeline() {
	local pod=$1 s
	s=$(svc_index "$(pod_svc "$pod")")
	sleep "$(ms_to_s "${PLAN_START_DELAY_MS[$s]}")"
	[ "$(cat "$LAB_DIR/state/$pod")" = starting ] || return 0
	pod_exec_until_ready "$pod" "$s" || return 0
	echo "$(date +%s.%N) ready $pod" >>"$LAB_DIR/events"
	sleep "$(ms_to_s "$PLAN_ENDPOINT_DELAY_MS")"
	touch "$LAB_DIR/ready/$pod"
	svc_sync "$(pod_svc "$pod")"
}

ms_to_s() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

bump() { local f=$1; echo $(($(cat "$f" 2>/dev/null || echo 0) + 1)) >"$f"; }

# A recorded process is its pid and its start time (field 22 of /proc/PID/stat, clock ticks since boot).
# Pids are reused: pid_max is 32768 on small machines and the lab forks about 45 times a second (10 849 pids
# in one 243 s fidelity-quick), so it goes through every pid in about 12 minutes and a pid written early in a
# run may name another process later. Every pid file holds "PID START", and a recorded process is signalled
# only while its pid still names it.
pid_start() {
	local s
	read -r s 2>/dev/null <"/proc/$1/stat" || return 1
	s=${s##*) }
	set -- $s
	echo "${20}"
}
pid_tag() { echo "$1 $(pid_start "$1" || echo -)"; } # "-": gone already, so never signalled
# pid_signal SIG PID START: sends SIG (0: only asks) to PID while it is the recorded process; 1 otherwise.
pid_signal() { [ -n "${3:-}" ] && [ "$(pid_start "$2")" = "$3" ] && kill "-$1" "$2" 2>/dev/null; }
# pid_file_signal SIG FILE: the same for the process recorded in FILE.
pid_file_signal() {
	local p s
	read -r p s 2>/dev/null <"$2" || return 1
	pid_signal "$1" "$p" "$s"
}

# pod-kill: the pod is deleted and replaced (see the header for what the lab reproduces of it).
pod_kill() {
	local pod=$1 restart_ms=$2 ip svc
	ip=$(pod_ip "$pod")
	svc=$(pod_svc "$pod")
	echo dead >"$LAB_DIR/state/$pod"
	pod_kill_procs "$pod"
	rm -f "$LAB_DIR/ready/$pod"
	node_nft "add element ip pclab dead { $ip }"
	[ "$WIRE" = labwire ] && wire_ctl port del "$pod" >/dev/null
	ip netns del "pc-lab-$pod" 2>/dev/null
	ip -n $NODE neigh del "$ip" dev br0 2>/dev/null || true
	echo "$(date +%s.%N) kill $pod" >>"$LAB_DIR/events"
	(sleep "$(ms_to_s "$PLAN_ENDPOINT_DELAY_MS")" && svc_sync "$svc") &
	sleep "$(ms_to_s "$restart_ms")"
	pod_net_up "$pod"
	node_nft "delete element ip pclab dead { $ip }"
	bump "$LAB_DIR/restarts/$pod"
	echo starting >"$LAB_DIR/state/$pod"
	pod_boot_timeline "$pod"
	wait
}

# container-kill, and the kubelet's restart of a container that died on its own (the OOM killer): the pod
# and its IP stay; the container comes back after `restart_ms`.
pod_container_restart() {
	local pod=$1 restart_ms=$2 svc s
	svc=$(pod_svc "$pod")
	echo dead >"$LAB_DIR/state/$pod"
	pid_file_signal 9 "$LAB_DIR/pid/$pod"
	if [ -e "$LAB_DIR/ready/$pod" ]; then
		rm -f "$LAB_DIR/ready/$pod"
		(sleep "$(ms_to_s "$PLAN_ENDPOINT_DELAY_MS")" && svc_sync "$svc") &
	fi
	sleep "$(ms_to_s "$restart_ms")"
	bump "$LAB_DIR/restarts/$pod"
	echo starting >"$LAB_DIR/state/$pod"
	s=$(svc_index "$svc")
	pod_exec_until_ready "$pod" "$s" || return 0
	sleep "$(ms_to_s "$PLAN_ENDPOINT_DELAY_MS")"
	touch "$LAB_DIR/ready/$pod"
	svc_sync "$svc"
	wait
}

# The kubelet's view of containers that die without the lab killing them (OOM kills of the service):
# restart with the simulator's back-off (1 s + 10 s per earlier restart).
lab_watcher() {
	local pod r
	while :; do
		for pod in $LAB_PODS; do
			[ "$(cat "$LAB_DIR/state/$pod" 2>/dev/null)" = running ] || continue
			pid_file_signal 0 "$LAB_DIR/pid/$pod" && continue
			[ "$(cat "$LAB_DIR/state/$pod" 2>/dev/null)" = running ] || continue
			echo "$(date +%s.%N) died $pod (not killed by the lab)" >>"$LAB_DIR/events"
			bump "$LAB_DIR/oom/$pod"
			r=$(cat "$LAB_DIR/restarts/$pod" 2>/dev/null || echo 0)
			echo dead >"$LAB_DIR/state/$pod"
			pod_container_restart "$pod" $((1000 + 10000 * r)) &
		done
		sleep 0.5
	done
}

# Starts every pod (fresh state: empty journals) and waits until all are ready and in their Services.
lab_pods_start() {
	local pod t0
	rm -rf "$LAB_DIR/journal" "$LAB_DIR/ready" "$LAB_DIR/restarts" "$LAB_DIR/oom"
	mkdir -p "$LAB_DIR/journal" "$LAB_DIR/ready" "$LAB_DIR/restarts" "$LAB_DIR/oom"
	for pod in $LAB_PODS; do
		[ -e "/run/netns/pc-lab-$pod" ] || pod_net_up "$pod"
		pod_cgroups_up "$pod"
		pod_exec "$pod"
	done
	t0=$(date +%s)
	for pod in $LAB_PODS; do
		until pod_ready_probe "$pod"; do
			[ $(($(date +%s) - t0)) -lt 20 ] || {
				tail -5 "$LAB_DIR/logs/$pod.log" >&2
				lab_die "$pod did not become ready in 20 s"
			}
			pid_file_signal 0 "$LAB_DIR/pid/$pod" || {
				tail -5 "$LAB_DIR/logs/$pod.log" >&2
				lab_die "$pod exited at start"
			}
			sleep 0.1
		done
		touch "$LAB_DIR/ready/$pod"
	done
	local s
	for s in 0 1 2; do svc_sync "${PLAN_SERVICES[$s]}"; done
	lab_watcher &
	pid_tag $! >"$LAB_DIR/watcher.pid"
	disown $!
}

# Stops the pods, the watcher, stressors and timelines of the previous run (between fidelity cells).
lab_pods_stop() {
	local pod p s d
	pid_file_signal 9 "$LAB_DIR/watcher.pid"
	rm -f "$LAB_DIR/watcher.pid"
	[ -f "$LAB_DIR/bg.pids" ] && while read -r p s; do pid_signal 9 "$p" "$s"; done <"$LAB_DIR/bg.pids"
	: >"$LAB_DIR/bg.pids"
	for pod in $LAB_PODS; do
		echo stopped >"$LAB_DIR/state/$pod" 2>/dev/null
		pod_kill_procs "$pod"
		for d in "$CG"/cpuacct/pc-lab-"$pod"/stress/a*; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
	done
	rm -f "$LAB_DIR"/stress/*
	node_nft "flush chain ip pclab chaos; flush set ip pclab dead"
	net_clear
}

# ---------------------------------------------------------------------------------------------------
# the hook: bin/loadgen calls it at each action's start and stop

chaos_rebuild() { # LAB_WIRE=nft: the node's chaos chain = the loss rules of every active network action
	local k a pod ips dips nets cmds
	cmds="flush chain ip pclab chaos"$'\n'
	for ((k = 0; k < PLAN_NRULES; k++)); do
		a=${RULE_ACT[$k]}
		[ -e "$LAB_DIR/active/$a" ] && [ "${RULE_HOOK[$k]}" = egress ] || continue
		ips=""
		for pod in ${RULE_SRC[$k]}; do ips="$ips${ips:+, }$(pod_ip "$pod")"; done
		[ -n "$ips" ] || continue
		dips=""
		for pod in ${RULE_DST[$k]}; do dips="$dips${dips:+, }$(pod_ip "$pod")"; done
		for nets in ${RULE_NETS[$k]}; do dips="$dips${dips:+, }$nets"; done
		local match="ip saddr { $ips }"
		if [ "${RULE_ANY[$k]}" != 1 ]; then
			[ -n "$dips" ] || continue
			match="$match ip daddr { $dips }"
		fi
		local thr
		thr=$(awk -v p="${ACT_LOSS_PCT[$a]}" 'BEGIN { printf "%d", p * 100 + 0.5 }')
		cmds+="add rule ip pclab chaos $match counter name \"a${a}_seen\" meta mark set meta mark or 0x2"
		cmds+=" numgen random mod 10000 < $thr counter name \"a${a}_drop\" drop"$'\n'
	done
	printf '%s' "$cmds" | node_nft -f -
}

wire_ctl() { "$LAB_BIN/labwire" ctl "$LAB_DIR/wire.sock" "$@"; }

# bin/labwire, in its own CPU groups (cpu.shares as the pods'; counted as the lab's own CPU, not as other
# jobs'), SCHED_FIFO where the kernel grants the group real-time time (the kernel's qdiscs run in softirq
# context, ahead of every thread). Started before the topology: every link is one of its ports.
wire_start() {
	[ "$WIRE" = labwire ] || return 0
	mkdir -p "$CG/cpu/pc-lab-wire" "$CG/cpuacct/pc-lab-wire"
	echo "$SHARES" >"$CG/cpu/pc-lab-wire/cpu.shares"
	local rt=${LAB_WIRE_RT:-10}
	if [ -f "$CG/cpu/pc-lab-wire/cpu.rt_runtime_us" ] && ! echo 200000 >"$CG/cpu/pc-lab-wire/cpu.rt_runtime_us" 2>/dev/null; then
		lab_log "no real-time time for bin/labwire's group: it runs as an ordinary process"
		rt=0
	fi
	(
		echo $BASHPID >"$CG/cpu/pc-lab-wire/cgroup.procs"
		echo $BASHPID >"$CG/cpuacct/pc-lab-wire/cgroup.procs"
		exec "$LAB_BIN/labwire" --control "$LAB_DIR/wire.sock" --seed "$(date +%s)" --rt "$rt"
	) >>"$LAB_DIR/logs/labwire.log" 2>&1 &
	pid_tag $! >"$LAB_DIR/wire.pid"
	disown $! 2>/dev/null
	local i
	for i in $(seq 100); do
		wire_ctl ping >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	lab_die "bin/labwire did not start (see $LAB_DIR/logs/labwire.log)"
}

# SIGTERM first: the forwarder removes its devices and its socket (the teardown kills what is left).
wire_stop() {
	[ -n "${LAB_DIR:-}" ] && [ -f "$LAB_DIR/wire.pid" ] || return 0
	local i
	pid_file_signal TERM "$LAB_DIR/wire.pid" || return 0
	for i in $(seq 40); do pid_file_signal 0 "$LAB_DIR/wire.pid" || break; sleep 0.05; done
	rm -f "$LAB_DIR/wire.pid"
}

# The destinations (or, for an INPUT rule, the sources) of rule k, comma-separated; "any" for no filter.
rule_addrs() {
	local k=$1 p n out=""
	if [ "${RULE_ANY[$k]}" = 1 ]; then echo any; return; fi
	for p in ${RULE_DST[$k]}; do out="$out${out:+,}$(pod_ip "$p")"; done
	for n in ${RULE_NETS[$k]}; do out="$out${out:+,}$n"; done
	echo "$out"
}

# A netem or tbf rule on the wire: one qdisc per pod, each with its own state (as tc installs one per pod),
# and a random PRNG seed as the kernel draws one (Chaos Mesh passes none); the seed is in the events.
wire_rule() {
	local verb=$1 k=$2 a=${RULE_ACT[$2]} pod addrs kind params seed
	addrs=$(rule_addrs "$k")
	[ -n "$addrs" ] || return 0
	read -r kind params <<<"${ACT_WIRE[$a]}"
	for pod in ${RULE_SRC[$k]}; do
		if [ "$verb" = stop ]; then
			# the kernel drops what a deleted qdisc still holds; LAB_WIRE_PURGE=0 lets it leave when due instead
			# (as the simulator does), to measure what the purge costs
			# shellcheck disable=SC2046
			wire_ctl rule del "a$a.r$k.$pod" $([ "$PURGE" = 0 ] && echo keep) >/dev/null 2>&1
			continue
		fi
		seed=""
		[ "$kind" = netem ] && seed="seed $((SRANDOM * 2147483648 + SRANDOM))"
		echo "$(date +%s.%N) wire rule a$a.r$k.$pod $kind $addrs ${params} $seed" >>"$LAB_DIR/events"
		# shellcheck disable=SC2086
		wire_ctl rule add "a$a.r$k.$pod" "$pod" "$kind" "$addrs" $params $seed >/dev/null ||
			lab_log "hook: bin/labwire refused rule a$a.r$k.$pod"
	done
}

# The kernel's tbf as the root qdisc of the pod's eth0 (a bandwidth action without a filter).
tbf_rule() {
	local verb=$1 k=$2 a=${RULE_ACT[$2]} pod
	for pod in ${RULE_SRC[$k]}; do
		if [ "$verb" = start ]; then
			# shellcheck disable=SC2086
			ns_exec "pc-lab-$pod" tc qdisc replace dev eth0 root ${ACT_TC[$a]} ||
				lab_log "hook: tc refused: ${ACT_TC[$a]}"
		else
			qdisc_save "$a" "$pod"
			ns_exec "pc-lab-$pod" tc qdisc del dev eth0 root 2>/dev/null
		fi
	done
}

# A qdisc's counters before it goes (tc -s): "qdisc ACTION POD sent dropped" for the collect.
qdisc_save() {
	ns_exec "pc-lab-$2" tc -s qdisc show dev eth0 2>/dev/null | awk -v a="$1" -v pod="$2" '
		/^qdisc (tbf|netem)/ { on = 1; next } on && /Sent/ { d = $7; sub(/,/, "", d); s += $4; dr += d; on = 0 }
		END { printf "qdisc\t%d\t%s\t%d\t%d\n", a, pod, s, dr }' >>"$LAB_DIR/qdisc.stats"
}

# The kernel's netem and tbf on the pods' eth0, rebuilt from every active action as chaos-daemon does on
# each change: unfiltered qdiscs stacked at the root, then a prio qdisc whose bands 4.. hold the filtered
# ones, selected by nftables `meta priority` rules in the pod's OUTPUT path (Chaos Mesh: iptables CLASSIFY,
# in Go map order: drawn at random here; the last matching rule wins).
tc_rebuild() {
	local pod=$1 k a h=1 parent=root roots=() filt=() i cmds
	qdisc_save_all "$pod"
	ns_exec "pc-lab-$pod" tc qdisc del dev eth0 root 2>/dev/null
	ns_exec "pc-lab-$pod" nft flush chain ip pclabpod classify
	for ((k = 0; k < PLAN_NRULES; k++)); do
		a=${RULE_ACT[$k]}
		[ -e "$LAB_DIR/active/$a" ] && [ "${RULE_HOOK[$k]}" = egress ] || continue
		case " ${RULE_SRC[$k]} " in *" $pod "*) ;; *) continue ;; esac
		if [ "${RULE_ANY[$k]}" = 1 ]; then roots+=("$k"); else filt+=("$k"); fi
	done
	for k in "${roots[@]}"; do
		# shellcheck disable=SC2086
		ns_exec "pc-lab-$pod" tc qdisc add dev eth0 $parent handle $h: ${ACT_TC[${RULE_ACT[$k]}]}
		parent="parent $h:1"
		h=$((h + 1))
	done
	[ ${#filt[@]} -gt 0 ] || return 0
	ns_exec "pc-lab-$pod" tc qdisc add dev eth0 $parent handle 100: prio bands $((3 + ${#filt[@]})) \
		priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1
	cmds=""
	for ((i = 0; i < ${#filt[@]}; i++)); do
		k=${filt[$i]}
		# shellcheck disable=SC2086
		ns_exec "pc-lab-$pod" tc qdisc add dev eth0 parent 100:$((4 + i)) handle $((110 + i)): ${ACT_TC[${RULE_ACT[$k]}]}
		cmds+="add rule ip pclabpod classify ip daddr { $(rule_addrs "$k") } meta priority set 100:$((4 + i))"$'\n'
	done
	printf '%s' "$cmds" | shuf | ns_exec "pc-lab-$pod" nft -f -
}

qdisc_save_all() { # every netem/tbf qdisc of the pod, attributed to the active egress actions on it
	local pod=$1 k
	for ((k = 0; k < PLAN_NRULES; k++)); do
		[ -e "$LAB_DIR/active/${RULE_ACT[$k]}" ] && [ "${RULE_HOOK[$k]}" = egress ] || continue
		case " ${RULE_SRC[$k]} " in *" $pod "*) qdisc_save "${RULE_ACT[$k]}" "$pod" ;; esac
	done
}

# A partition rule in the pods' own nftables: OUTPUT drops packets to the destinations (the send fails),
# INPUT drops packets from the sources. One chain per rule, one named counter per address.
partition_rule() {
	local verb=$1 k=$2 hook=${RULE_HOOK[$2]} pod x cmds field=daddr addrs
	[ "$hook" = input ] && field=saddr
	addrs=$(rule_addrs "$k")
	[ "$addrs" = any ] && addrs=0.0.0.0/0
	for pod in ${RULE_SRC[$k]}; do
		if [ "$verb" = stop ]; then
			ns_exec "pc-lab-$pod" nft flush chain ip pclabpod "r$k" 2>/dev/null
			continue
		fi
		cmds="add chain ip pclabpod r$k"$'\n'"add rule ip pclabpod $hook jump r$k"$'\n'
		for x in ${addrs//,/ }; do
			cmds+="add counter ip pclabpod c${k}_${x//[.\/]/_}"$'\n'
			cmds+="add rule ip pclabpod r$k ip $field $x counter name c${k}_${x//[.\/]/_} drop"$'\n'
		done
		printf '%s' "$cmds" | ns_exec "pc-lab-$pod" nft -f - || lab_log "hook: cannot install partition rule $k on $pod"
	done
}

# A network action starts or stops: each of its rules where it acts.
net_apply() {
	local a=$1 verb=$2 k pod pods=""
	[ "$WIRE" = nft ] && chaos_rebuild
	for ((k = 0; k < PLAN_NRULES; k++)); do
		[ "${RULE_ACT[$k]}" = "$a" ] || continue
		case ${RULE_HOOK[$k]}:$WIRE in
		output:* | input:*) partition_rule "$verb" "$k" ;;
		egress:labwire)
			if [ "${ACT_NET[$a]}" = bandwidth ] && [ "$HAVE_TBF" = 1 ] && [ "${RULE_ANY[$k]}" = 1 ]; then
				tbf_rule "$verb" "$k"
			else
				wire_rule "$verb" "$k"
			fi
			;;
		egress:kernel) pods="$pods ${RULE_SRC[$k]}" ;;
		esac
	done
	for pod in $(tr ' ' '\n' <<<"$pods" | sort -u); do tc_rebuild "$pod"; done
}

# Between cells: every fault of the wire, the qdiscs and the pods' partition rules removed.
net_clear() {
	local pod
	[ "$WIRE" = labwire ] && wire_ctl rule clear >/dev/null 2>&1
	for pod in $LAB_PODS; do
		[ -e "/run/netns/pc-lab-$pod" ] || continue
		ns_exec "pc-lab-$pod" tc qdisc del dev eth0 root 2>/dev/null
		ns_exec "pc-lab-$pod" nft delete table ip pclabpod 2>/dev/null
		pod_nft_base "$pod"
	done
	rm -f "$LAB_DIR/qdisc.stats"
}

stress_start() {
	local a=$1 pod=$2 s
	local args=()
	if [ "${ACT_CPU_WORKERS[$a]:-0}" -gt 0 ]; then
		args+=(--cpu "${ACT_CPU_WORKERS[$a]}" --cpu-load "${ACT_CPU_LOAD[$a]}" --cpu-load-slice 10 --cpu-method sqrt)
	fi
	if [ "${ACT_MEM_WORKERS[$a]:-0}" -gt 0 ] && [ "${ACT_MEM_BYTES[$a]:-0}" -gt 0 ]; then
		# stress-ng 0.15.06 divides --vm-bytes among the --vm workers (docs/measurements/cfs-stress.md R7):
		# the total, as memStress's --size
		args+=(--vm "${ACT_MEM_WORKERS[$a]}" --vm-bytes "${ACT_MEM_BYTES[$a]}" --vm-hang 0)
	fi
	[ ${#args[@]} -gt 0 ] || return 0
	# each action's stressors in a group of their own under the pod's stress accounting (cgroup v1's
	# cpuacct charges every ancestor, so the pod's stress figure still sums them): an action that ends
	# stops its own processes, not those of another action still running on the pod, as chaos-daemon
	# kills only the stress-ng it started (the seed's 05 file at once: five objects on the payment pods)
	mkdir -p "$CG/cpuacct/pc-lab-$pod/stress/a$a"
	(
		echo $BASHPID >"$CG/cpu/pc-lab-$pod/cgroup.procs"
		echo $BASHPID >"$CG/cpuacct/pc-lab-$pod/stress/a$a/cgroup.procs"
		echo $BASHPID >"$CG/memory/pc-lab-$pod/cgroup.procs"
		exec stress-ng "${args[@]}" --timeout 3600s --quiet
	) >>"$LAB_DIR/logs/stress-$pod.log" 2>&1 &
	local tag
	tag=$(pid_tag $!)
	echo "$tag $pod" >>"$LAB_DIR/stress/$a"
	echo "$tag" >>"$LAB_DIR/bg.pids"
}

stress_stop() {
	local a=$1 pid start pod p
	[ -f "$LAB_DIR/stress/$a" ] || return 0
	while read -r pid start pod; do
		pid_signal TERM "$pid" "$start"
		sleep 0.2
		# what this action's stress-ng left (workers), by pid, from its own group only
		for p in $(cat "$CG/cpuacct/pc-lab-$pod/stress/a$a/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		rmdir "$CG/cpuacct/pc-lab-$pod/stress/a$a" 2>/dev/null
	done <"$LAB_DIR/stress/$a"
	rm -f "$LAB_DIR/stress/$a"
}

lab_hook() {
	local verb=$1 a=${2:-0} pod
	[ -n "${LAB_DIR:-}" ] && [ -f "$LAB_DIR/plan.sh" ] || lab_die "hook: LAB_DIR is not a lab directory"
	lab_load_plan
	LAB_PODS=$(cat "$LAB_DIR/pods")
	mkdir -p "$LAB_DIR/active"
	echo "$(date +%s.%N) hook $verb $a" >>"$LAB_DIR/events"
	# only `collect` talks to bin/loadgen on stdout; the rest (and the jobs they leave running) log to a file
	[ "$verb" = collect ] || exec >>"$LAB_DIR/logs/hook.log"
	case $verb in
	begin)
		node_nft "reset counters table ip pclab" >/dev/null
		[ "$WIRE" = labwire ] && wire_ctl reset >/dev/null
		for pod in $LAB_PODS; do ns_exec "pc-lab-$pod" nft reset counters table ip pclabpod >/dev/null 2>&1; done
		rm -f "$LAB_DIR/qdisc.stats"
		lab_nstat >"$LAB_DIR/nstat.begin"
		;;
	start)
		case ${ACT_KIND[$a]} in
		network)
			touch "$LAB_DIR/active/$a"
			net_apply "$a" start
			;;
		stress)
			for pod in ${ACT_PODS[$a]}; do stress_start "$a" "$pod"; done
			;;
		pod-kill)
			for pod in ${ACT_PODS[$a]}; do
				pod_kill "$pod" "${ACT_RESTART_DELAY_MS[$a]}" &
				pid_tag $! >>"$LAB_DIR/bg.pids"
			done
			;;
		container-kill)
			for pod in ${ACT_PODS[$a]}; do
				pod_container_restart "$pod" "${ACT_RESTART_DELAY_MS[$a]}" &
				pid_tag $! >>"$LAB_DIR/bg.pids"
			done
			;;
		*) lab_log "hook: ${ACT_KIND[$a]} is not supported in the lab (action ${ACT_NAME[$a]})" ;;
		esac
		;;
	stop)
		case ${ACT_KIND[$a]} in
		network)
			rm -f "$LAB_DIR/active/$a"
			net_apply "$a" stop
			;;
		stress) stress_stop "$a" ;;
		esac
		;;
	collect) lab_collect ;;
	*) lab_die "hook: unknown verb $verb" ;;
	esac
}

# TCP counters summed over the pods' and the client's namespaces:
# ActiveOpens TCPSynRetrans TCPLossProbes TCPTimeouts TCPFastRetrans OutRsts AttemptFails
lab_nstat() {
	local ns
	for ns in $CLIENT $(for p in $LAB_PODS; do echo "pc-lab-$p"; done); do
		[ -e "/run/netns/$ns" ] || continue
		ns_exec "$ns" cat /proc/net/snmp /proc/net/netstat
	done | awk '
		/^(Tcp|TcpExt):/ { if (!hdr[$1]) { for (i = 2; i <= NF; i++) name[$1, i] = $i; hdr[$1] = 1; next }
		                   for (i = 2; i <= NF; i++) v[name[$1, i]] += $i; hdr[$1] = 0 }
		END { printf "%d %d %d %d %d %d %d\n", v["ActiveOpens"], v["TCPSynRetrans"], v["TCPLossProbes"],
		      v["TCPTimeouts"], v["TCPFastRetrans"], v["OutRsts"], v["AttemptFails"] }'
}

# Everything the collect reports is also kept in LAB_DIR/collect.out (fidelity.sh keeps it per cell).
lab_collect() {
	{
		if [ "$WIRE" = nft ]; then lab_collect_node; else lab_collect_wire; fi
		lab_collect_tcp_pods
	} | tee "$LAB_DIR/collect.out"
}

# LAB_WIRE=nft: the node's counters: per (sender, destination as written), before and after the chaos rules.
lab_collect_node() {
	local counters
	counters=$(node_nft list counters table ip pclab 2>/dev/null | awk '
		/counter / { name = $2 } /packets/ { print name, $2 }')
	get() { awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }' <<<"$counters"; }
	local s svc src dst label pre post postf
	local srcs="client" dsts="client"
	for s in 0 1 2; do
		svc=${PLAN_SERVICES[$s]}
		srcs="$srcs $svc"
		dsts="$dsts $svc-vip $svc-pod"
	done
	for src in $srcs; do
		for dst in $dsts; do
			local n=l_${src}_${dst//-/_}
			pre=$(get "${n}_pre")
			[ "$pre" -gt 0 ] || continue
			post=$(get "${n}_post")
			postf=$(get "${n}_postf")
			case $dst in
			client) label=client ;;
			*-vip) label="${dst%-vip} (Service IP)" ;;
			*-pod) label="${dst%-pod} (pod IP)" ;;
			esac
			printf 'ledger\t%s\t%s\t%d\t%d\t%d\n' "$src" "$label" "$pre" $((postf + pre - post)) $((pre - post))
		done
	done
	local a
	for ((a = 0; a < PLAN_NACTIONS; a++)); do # lab_plan refused what the lab cannot inject
		[ "${ACT_KIND[$a]}" = network ] || continue
		printf 'action\t%d\t%d\t%d\n' "$a" "$(get "a${a}_seen")" "$(get "a${a}_drop")"
	done
}

# The wire (or the kernel's qdiscs): what every pod sent, from bin/labwire's ledger (before any fault),
# the partition counters of the pods' OUTPUT and INPUT chains, the kernel qdiscs' counters, and what reached
# the node (its prerouting counters, before DNAT), all by (sender's service, destination as written).
# A packet dropped at the receiver's INPUT is booked to the sender's call as the receiver's service sees
# it: its Service IP for payment's calls and the clients', its pod IP otherwise (the receiver does not see
# the address the sender wrote). Lines: ledger, action (seen dropped delayed local_dropped), and for the
# fidelity check wirerule, wireself, wirelink (sent, corrupted, arrived at the node), partition, qdisc.
lab_collect_wire() {
	local s pod k
	{
		for s in 0 1 2; do echo "map ${PLAN_VIPS[$s]} ${PLAN_SERVICES[$s]} vip"; done
		echo "map $CLIENT_IP client client"
		for pod in $LAB_PODS; do echo "map $(pod_ip "$pod") $(pod_svc "$pod") pod"; done
		for ((k = 0; k < PLAN_NRULES; k++)); do echo "planrule $k ${RULE_ACT[$k]} ${RULE_HOOK[$k]}"; done
		[ "$WIRE" = labwire ] && wire_ctl stats
		for pod in $LAB_PODS; do
			ns_exec "pc-lab-$pod" nft list counters table ip pclabpod 2>/dev/null |
				awk -v pod="$pod" '/counter / { n = $2 } /packets/ { print "pcount", pod, n, $2 }'
		done
		node_nft list counters table ip pclab 2>/dev/null | awk '/counter / { n = $2 } /packets/ { print "node", n, $2 }'
		cat "$LAB_DIR/qdisc.stats" 2>/dev/null
	} | awk -v nact="$PLAN_NACTIONS" -f "$LAB_HERE/collect_wire.awk"
}

lab_collect_tcp_pods() {
	local b e
	read -r -a b <"$LAB_DIR/nstat.begin" 2>/dev/null || b=(0 0 0 0 0 0 0)
	read -r -a e < <(lab_nstat)
	# connections, SYN(+SYN-ACK) retransmissions, -, TLPs, RTO expiries, fast retransmits, resets, failed
	printf 'tcp\t%d\t%d\t0\t%d\t%d\t%d\t%d\t%d\n' $((e[0] - b[0])) $((e[1] - b[1])) $((e[2] - b[2])) \
		$((e[3] - b[3])) $((e[4] - b[4])) $((e[5] - b[5])) $((e[6] - b[6]))
	local pod
	for pod in $LAB_PODS; do
		printf 'pod\t%s\t%d\t%d\n' "$pod" "$(cat "$LAB_DIR/restarts/$pod" 2>/dev/null || echo 0)" \
			"$(cat "$LAB_DIR/oom/$pod" 2>/dev/null || echo 0)"
	done
	# segments the node dropped as kube-proxy does (conntrack state INVALID), since the lab started
	printf 'conntrack_invalid_dropped\t%d\n' "$(node_nft list counter ip pclab ct_invalid 2>/dev/null |
		awk '/packets/ { print $2; f = 1 } END { if (!f) print 0 }')"
}

# ---------------------------------------------------------------------------------------------------
# one scenario, cleanup and the leak check

# Writes the plan for the options (bin/loadgen runs the simulator to select the pods), checks what the
# lab cannot inject on this kernel.
lab_plan() {
	"$LAB_BIN/loadgen" --plan "$LAB_DIR/plan.sh" "$@" || lab_die "bin/loadgen --plan failed for: $*"
	lab_load_plan
	local a
	for ((a = 0; a < PLAN_NACTIONS; a++)); do
		[ "${ACT_KIND[$a]}" = pod-failure ] && lab_die "${ACT_NAME[$a]}: pod-failure is not implemented in the lab"
		[ "${ACT_KIND[$a]}" = network ] && [ "$WIRE" = nft ] || continue
		[ "${ACT_NET[$a]}" = partition ] && continue # the pods' own nftables, whatever the wire
		if [ "${ACT_CORR_PCT[$a]}" != 0 ] || [ "${ACT_DELAY_US[$a]}" != 0 ] || [ "${ACT_JITTER_US[$a]}" != 0 ] ||
			[ "${ACT_DUP_PCT[$a]}" != 0 ] || [ "${ACT_CORRUPT_PCT[$a]}" != 0 ] || [ "${ACT_NET[$a]}" = bandwidth ] ||
			[[ "${ACT_WIRE[$a]}" != *" reorder 0 "* ]]; then
			lab_die "${ACT_NAME[$a]}: LAB_WIRE=nft injects loss only (nftables numgen in the node); correlation," \
				"delay, jitter, duplicate, corrupt, reorder and bandwidth need LAB_WIRE=labwire or kernel"
		fi
	done
}

# Runs bin/loadgen in the client namespace (and its own CPU group) for the options; its report goes to
# stdout. LAB_TARGET overrides the payment Service as the target (calibration drives each service).
lab_load() {
	mkdir -p "$CG/cpu/pc-lab-client" "$CG/cpuacct/pc-lab-client"
	echo "$SHARES" >"$CG/cpu/pc-lab-client/cpu.shares"
	# in the background and waited for, so that an interrupt runs the trap (teardown) at once instead of
	# after the load generator's last phase
	(
		echo $BASHPID >"$CG/cpu/pc-lab-client/cgroup.procs"
		echo $BASHPID >"$CG/cpuacct/pc-lab-client/cgroup.procs"
		exec env LAB_DIR="$LAB_DIR" nsenter --net=/run/netns/$CLIENT "$LAB_BIN/loadgen" \
			--target "${LAB_TARGET:-http://${PLAN_VIPS[0]}:${PLAN_PORTS[0]}}" --hook "$LAB_SH" --lab-dir "$LAB_DIR" "$@"
	) &
	wait $!
}

# CPU time (ns) used on the whole machine and by the lab's own processes (pods, stressors, load generator,
# hooks): "busy_ns lab_ns". The difference over a run is what other jobs on the machine took.
lab_cpu_sample() {
	local lab=0 f v busy
	for f in "$CG"/cpuacct/pc-lab-*/cpuacct.usage; do
		[ -f "$f" ] && v=$(cat "$f" 2>/dev/null) && lab=$((lab + v))
	done
	busy=$(awk '/^cpu / { printf "%.0f", ($2 + $3 + $4 + $7 + $8 + $9) * 10000000 }' /proc/stat)
	echo "$busy $lab"
}

# LAB_KEEP_AWAKE=1: a busy loop on every CPU at the lowest priority there is (SCHED_IDLE, in a cpu group
# with cpu.idle=1: any other thread that wakes preempts it at once), so that no vCPU halts. On a VM a halted
# vCPU wakes through the hypervisor, and a timer or a wake-up that lands on one is late by what the host's
# scheduler makes of it (docs/lab.md, "The wire": measured with lab/probes/timerlate.c). Its CPU is the
# lab's own (cpuacct pc-lab-awake), not other jobs'.
awake_start() {
	[ "${LAB_KEEP_AWAKE:-0}" = 1 ] || return 0
	mkdir -p "$CG/cpu/pc-lab-awake" "$CG/cpuacct/pc-lab-awake"
	if ! echo 1 >"$CG/cpu/pc-lab-awake/cpu.idle" 2>/dev/null; then
		echo 2 >"$CG/cpu/pc-lab-awake/cpu.shares"
		lab_log "no cpu.idle in this kernel's cpu controller: the keep-awake loops run at cpu.shares 2"
	fi
	local c
	for c in $(seq 0 $(($(nproc) - 1))); do
		(
			echo $BASHPID >"$CG/cpu/pc-lab-awake/cgroup.procs"
			echo $BASHPID >"$CG/cpuacct/pc-lab-awake/cgroup.procs"
			exec taskset -c "$c" chrt --idle 0 bash -c 'while :; do :; done'
		) &
		disown $! 2>/dev/null
	done
}

# Topology for the current plan (replica counts, limits): node, client, pods' namespaces and cgroups.
lab_up() {
	lab_assign_pods
	mkdir -p "$LAB_DIR/logs"
	awake_start
	wire_start
	lab_node_up
	local pod
	for pod in $LAB_PODS; do
		pod_net_up "$pod"
		pod_cgroups_up "$pod"
	done
	lab_nft_pod_sets
	lab_nft_ledger
	local a
	{
		for ((a = 0; a < 64; a++)); do echo "add counter ip pclab a${a}_seen"; echo "add counter ip pclab a${a}_drop"; done
	} | node_nft -f -
}

# Starts the lab's bookkeeping: pids cgroup (joined by this shell: every later process is in it), the
# temporary directory, and the trap that tears everything down on exit, error or interrupt.
lab_begin() {
	lab_require
	mkdir -p "$CG/pids/pc-lab"
	echo $$ >"$CG/pids/pc-lab/cgroup.procs"
	LAB_DIR=$(mktemp -d /tmp/pc-lab.XXXXXX)
	export LAB_DIR
	trap 'lab_end; exit 130' INT TERM
	trap 'lab_end' EXIT
	lab_choose_wire
}

# Everything this lab created, removed: processes (by pid, from our cgroups), namespaces (their veths go
# with them), cgroups, the temporary directory. Safe to call twice.
lab_teardown() {
	local p i pod d
	wire_stop
	for i in $(seq 1 50); do
		local left=0
		for p in $(cat "$CG/pids/pc-lab/cgroup.procs" 2>/dev/null); do
			[ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
			kill -9 "$p" 2>/dev/null && left=1
		done
		for d in "$CG"/cpu/pc-lab-*; do
			[ -d "$d" ] || continue
			for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null && left=1; done
		done
		[ $left = 0 ] && break
		sleep 0.1
	done
	for d in $(ip netns list 2>/dev/null | awk '$1 ~ /^pc-lab/ { print $1 }'); do ip netns del "$d" 2>/dev/null; done
	for d in "$CG"/cpuacct/pc-lab-*/app "$CG"/cpuacct/pc-lab-*/stress/a* "$CG"/cpuacct/pc-lab-*/stress \
		"$CG"/cpuacct/pc-lab-* "$CG"/cpu/pc-lab-* \
		"$CG"/memory/pc-lab-*; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	if [ -d "$CG/pids/pc-lab" ]; then
		echo $$ >"$CG/pids/cgroup.procs" 2>/dev/null
		rmdir "$CG/pids/pc-lab" 2>/dev/null
	fi
	[ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ] && case $LAB_DIR in /tmp/pc-lab.*) rm -rf "$LAB_DIR" ;; esac
	return 0
}

# Exit 1 (and say what) if anything of a lab is still on the machine.
lab_check() {
	local bad=0 d
	if ip netns list 2>/dev/null | grep -q '^pc-lab'; then
		echo "lab: left behind: network namespaces $(ip netns list | awk '/^pc-lab/ { print $1 }' | tr '\n' ' ')" >&2
		bad=1
	fi
	for d in "$CG"/*/pc-lab*; do
		[ -d "$d" ] && { echo "lab: left behind: cgroup $d" >&2; bad=1; }
	done
	if ls -d /tmp/pc-lab.* >/dev/null 2>&1; then
		for d in /tmp/pc-lab.*; do
			[ -d "$d" ] || continue # /tmp/pc-lab.lock is the shared lock's file, not ours
			[ "$d" = "${LAB_KEEP_DIR:-}" ] && continue
			echo "lab: left behind: directory $d" >&2
			bad=1
		done
	fi
	if ip -o link show type tun 2>/dev/null | grep -qE '^[0-9]+: (v[0-9]+|vcl)[:@]'; then
		echo "lab: left behind: a TAP device of the wire in the host namespace" >&2
		bad=1
	fi
	if nft list tables 2>/dev/null | grep -q pclab; then
		echo "lab: left behind: nftables table pclab in the host namespace" >&2
		bad=1
	fi
	# processes: every process the lab starts is in the pids cgroup pc-lab (and a pod's in cpu/pc-lab-<pod>),
	# and a cgroup with a process in it cannot be removed, so no cgroup left means no process left
	return $bad
}

lab_end() {
	trap - EXIT INT TERM
	lab_teardown
	if lab_check; then
		lab_log "cleaned up: no namespace, cgroup, nftables table, process or directory of the lab is left"
	else
		lab_log "cleanup incomplete (see above); run: $LAB_SH cleanup"
		LAB_LEAK=1
	fi
}

lab_run_one() {
	lab_begin
	lab_plan "$@"
	lab_up
	lab_pods_start
	local rc=0
	lab_load "$@" || rc=$?
	lab_pods_stop
	lab_end
	[ "${LAB_LEAK:-0}" = 1 ] && return 3
	return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	cmd=${1:-}
	shift || true
	case $cmd in
	run) lab_run_one "$@"; exit $? ;;
	hook) lab_hook "$@" ;;
	cleanup)
		[ "$(id -u)" = 0 ] || lab_die "cleanup must run as root"
		LAB_DIR=""
		lab_teardown
		for d in /tmp/pc-lab.*; do [ -d "$d" ] && rm -rf "$d"; done
		lab_check && lab_log "nothing of the lab is left"
		;;
	check) lab_check && lab_log "nothing of the lab is left" ;;
	*)
		sed -n '2,8p' "$LAB_SH" | sed 's/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
fi
