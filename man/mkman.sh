#!/bin/sh
# mkman.sh TEMPLATE PROGRAM [NAME=VALUE...]: a man page from TEMPLATE, with @HELP@ replaced by PROGRAM --help
# turned into roff (so the page lists exactly the options or settings the program knows) and @VERSION@ by the
# release PROGRAM --version names; every NAME=VALUE replaces @NAME@. Writes the page to stdout.
#
# The --help text is read as: a heading is an unindented line followed by an indented entry ("run:",
# "Process"); an entry is two spaces, a term, two or more spaces and its description; a deeper-indented line
# continues the description; lines before the first heading (the usage and the summary the template already
# has) are skipped; other unindented lines after it are paragraphs.
set -eu
template=$1
program=$2
shift 2
version=$("$program" --version | awk 'NR == 1 { print $2 }')
help=$(mktemp)
trap 'rm -f "$help"' EXIT
"$program" --help | awk '
function roff(s) { gsub(/\\/, "\\e", s); sub(/^[.'"'"']/, "\\\\\\&&", s); return s }
function term(s) { s = roff(s); gsub(/-/, "\\-", s); return s }
{ line[NR] = $0 }
END {
    started = 0
    for (i = 1; i <= NR; i++) {
        l = line[i]
        if (l ~ /^[^ ]/ && line[i + 1] ~ /^  [^ ]/) {
            h = l; sub(/:$/, "", h)
            print ".SS " roff(h); started = 1; continue
        }
        if (!started) continue
        if (l ~ /^$/) { print ".PP"; continue }
        if (l ~ /^  [^ ]/) {
            t = substr(l, 3); d = ""
            if (match(t, /   *[^ ]/)) { d = substr(t, RSTART); t = substr(t, 1, RSTART - 1); sub(/^ +/, "", d); gsub(/  +/, " ", d) }
            print ".TP"; print ".B " term(t); if (d != "") print roff(d)
            continue
        }
        if (l ~ /^    /) { sub(/^ +/, "", l); gsub(/  +/, " ", l); print roff(l); continue }
        print roff(l)
    }
}' >"$help"
args=""
sed_script=$(mktemp)
trap 'rm -f "$help" "$sed_script"' EXIT
printf 's|@VERSION@|%s|g\n' "$(printf '%s' "$version" | sed 's/[|&\\]/\\&/g')" >"$sed_script"
for kv in "$@"; do
    printf 's|@%s@|%s|g\n' "${kv%%=*}" "$(printf '%s' "${kv#*=}" | sed 's/[|&\\]/\\&/g')" >>"$sed_script"
done
awk -v help="$help" '$0 == "@HELP@" { while ((getline l < help) > 0) print l; next } { print }' "$template" |
    sed -f "$sed_script"
