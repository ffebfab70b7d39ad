# collect_wire.awk: the lab's fault ledger from the wire's counters (lab.sh lab_collect_wire feeds it).
#
# Input, one record per line:
#   map ADDR SERVICE pod|vip|client      who an address is
#   planrule K ACTION HOOK               the plan's rule K (egress, output, input) belongs to ACTION
#   link/rule/self/order/io ...          bin/labwire's `stats` (lab/wire/control.h)
#   pcount POD cK_A_B_C_D_P N            a partition counter of rule K in POD's nftables (address A.B.C.D/P)
#   node NAME N                          the node's counters (l_SRC_DST_pre: arrived at the node)
#   qdisc ACTION POD SENT DROPPED        a kernel qdisc's counters when it was removed
# Output (tab-separated, what bin/loadgen and loadgen --ledger-check read):
#   ledger SRC LABEL seen faulted dropped local_dropped delayed duplicated corrupted mean_delay_ms
#   action ID seen dropped delayed local_dropped
#   wirerule ACTION POD kind active seen dropped_loss dropped_limit duplicated corrupted reordered delayed
#            released purged sched_sum sched_sq sched_min sched_max late_max HIST
#   wireself in_pod in_node out_pod out_node pool_drops pool_high too_big late_max HIST
#   wireio wake_max WAKEHIST busy_max BUSYHIST   (the wire's loop: main_labwire.c)
#   wirelink SRC LABEL sent corrupted arrived
#   partition ACTION HOOK POD ADDR packets
#   qdisc ACTION POD sent dropped
function svc_of_port(p, x) { x = p; if (x != "client") sub(/-[0-9]+$/, "", x); return x }
function label(a) {
	if (!(a in kind)) return a
	if (kind[a] == "vip") return svc[a] " (Service IP)"
	if (kind[a] == "pod") return svc[a] " (pod IP)"
	return "client"
}
function nodekey(a) {
	if (!(a in kind)) return ""
	return kind[a] == "client" ? "client" : svc[a] "_" kind[a]
}
function row(src, lab) {
	k = src SUBSEP lab
	if (!(k in seen)) { seen[k] = 0; rows[++nrows] = k }
	return k
}
function addr_of(name, parts, n, a) { # cK_A_B_C_D_P -> A.B.C.D (and /P when not 32)
	n = split(name, parts, "_")
	a = parts[2] "." parts[3] "." parts[4] "." parts[5]
	if (n >= 6 && parts[6] != 32) a = a "/" parts[6]
	return a
}
$1 == "map" { kind[$2] = $4; svc[$2] = $3; next }
$1 == "planrule" { ract[$2] = $3; rhook[$2] = $4; acts[$3] = 1; next }
$1 == "link" {
	k = row(svc_of_port($2), label($3))
	seen[k] += $4; faulted[k] += $5; dropped[k] += $6; dup[k] += $7; corrupt[k] += $8; delayed[k] += $10
	sent[k] += $11; dsum[k] += $12
	nk = nodekey($3)
	if (nk != "") nodename[k] = "l_" svc_of_port($2) "_" nk "_pre"
	next
}
$1 == "rule" {
	split($2, nm, ".")
	a = substr(nm[1], 2); pod = $2; sub(/^a[0-9]+\.r[0-9]+\./, "", pod)
	aseen[a] += $6; adrop[a] += $7 + $8 + $14; adelay[a] += $12
	out = "wirerule\t" a "\t" pod
	for (i = 4; i <= 20; i++) out = out "\t" $i
	wr[++nwr] = out
	next
}
$1 == "io" { wireio = "wireio\t" $7 "\t" $9 "\t" $11 "\t" $13; next }
$1 == "self" { wireself = "wireself\t" $3 "\t" $5 "\t" $7 "\t" $9 "\t" $11 "\t" $13 "\t" $15 "\t" $17 "\t" $19; next }
$1 == "pcount" {
	rk = substr($3, 2); sub(/_.*/, "", rk)
	a = ract[rk]; h = rhook[rk]; ad = addr_of($3); n = $4
	part[++npart] = "partition\t" a "\t" h "\t" $2 "\t" ad "\t" n
	if (n == 0) next
	aseen[a] += n
	if (h == "output") {
		k = row(svc_of_port($2), label(ad)); seen[k] += n; faulted[k] += n; local_[k] += n; alocal[a] += n
	} else {
		src = (ad in svc) ? svc[ad] : ad; rs = svc_of_port($2)
		lab = (src == "client" || (src == "payment" && rs != "payment")) ? rs " (Service IP)" : rs " (pod IP)"
		k = row(src, lab); faulted[k] += n; dropped[k] += n; adrop[a] += n
	}
	next
}
$1 == "node" { node[$2] = $3; next }
$1 == "qdisc" { acts[$2] = 1; aseen[$2] += $4 + $5; adrop[$2] += $5; q[++nq] = $0; next }
END {
	for (i = 1; i <= nrows; i++) {
		k = rows[i]; split(k, sd, SUBSEP)
		md = delayed[k] ? dsum[k] / delayed[k] / 1e6 : 0
		printf "ledger\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.3f\n", sd[1], sd[2], seen[k], faulted[k], dropped[k],
			local_[k], delayed[k], dup[k], corrupt[k], md
	}
	for (a in acts)
		printf "action\t%d\t%d\t%d\t%d\t%d\n", a, aseen[a], adrop[a], adelay[a], alocal[a]
	for (i = 1; i <= nwr; i++) print wr[i]
	if (wireself != "") print wireself
	if (wireio != "") print wireio
	for (i = 1; i <= nrows; i++) {
		k = rows[i]; split(k, sd, SUBSEP)
		if (k in nodename) printf "wirelink\t%s\t%s\t%d\t%d\t%d\n", sd[1], sd[2], sent[k], corrupt[k], node[nodename[k]]
	}
	for (i = 1; i <= npart; i++) print part[i]
	for (i = 1; i <= nq; i++) print q[i]
}
