#!/bin/sh
# job-guard: run a batch job's command so that it stops cleanly on SIGTERM,
# SIGQUIT or SIGINT, and, with --lock, never runs twice at once.
#
#   job-guard.sh [--lock NAME] [--lease-seconds N] [--] COMMAND [ARG...]
#
# - Its traps are set before anything else, so a signal that arrives while the
#   guard starts (or takes the lock) is not lost: the job is then not started,
#   and the guard exits with 128+n.
# - It forwards SIGTERM, SIGQUIT and SIGINT to the job, waits for the job
#   (again after each trapped signal) and exits with the job's code, 128+n
#   when the job was killed by signal n.
# - --lock NAME takes the coordination.k8s.io/v1 Lease NAME in the pod's
#   namespace with the pod's service-account token, renews it while the job
#   runs, and releases it when the job ends by itself or on a forwarded signal.
#   A second copy exits 75 (EX_TEMPFAIL) without starting the job. When the
#   job dies of a signal nobody forwarded (SIGKILL by the OOM killer, say),
#   the lease is kept and expires on its own after --lease-seconds: the next
#   run waits until then, as a job that must not re-run wants.
#
# POSIX sh (dash, busybox ash, bash); --lock also needs curl. Exit codes of
# its own: 64 usage, 69 the API server could not be used for the lock, 75 the
# lock is held. Environment (tests, or outside a pod): JOB_GUARD_API (default
# https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT), JOB_GUARD_SA_DIR
# (default /var/run/secrets/kubernetes.io/serviceaccount: token, ca.crt,
# namespace), JOB_GUARD_HOLDER (default $POD_NAME, else $HOSTNAME: the pod's
# name), JOB_GUARD_RENEW_SECONDS (default a third of --lease-seconds).

# ---- signals first. The whole script is a function, main, so that the shell
# has parsed all of it before the traps at the bottom are set: bash (5.2) runs
# a trap that arrives while it parses a later $(...) with its parser confused
# ("unexpected EOF while looking for matching `)'"), and the signal is lost.
# The traps are the first commands that run; main comes right after them.
job=
ready=
pending=
trapped=
# Until the job's process is ready (see "the job" below) a signal is kept in
# $pending; from then on it goes straight to the job.
on_signal() {
  trapped=$1
  if [ -n "$ready" ]; then
    kill -s "$1" "$job" 2>/dev/null
  else
    pending=$1
  fi
}

main() {
  set -u
  me=job-guard
  say() { printf '%s: %s\n' "$me" "$*" >&2; }
  signal_number() { case $1 in INT) echo 2 ;; QUIT) echo 3 ;; TERM) echo 15 ;; esac; }

  lock=
  lease_seconds=60
  while [ $# -gt 0 ]; do
    case $1 in
      --lock) [ $# -ge 2 ] || { say "--lock needs a name"; exit 64; }; lock=$2; shift 2 ;;
      --lock=*) lock=${1#--lock=}; shift ;;
      --lease-seconds) [ $# -ge 2 ] || { say "--lease-seconds needs a number"; exit 64; }; lease_seconds=$2; shift 2 ;;
      --lease-seconds=*) lease_seconds=${1#--lease-seconds=}; shift ;;
      --help|-h) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      --) shift; break ;;
      -*) say "unknown option $1 (try --help)"; exit 64 ;;
      *) break ;;
    esac
  done
  [ $# -gt 0 ] || { say "no command given (usage: job-guard.sh [--lock NAME] [--lease-seconds N] -- COMMAND [ARG...])"; exit 64; }
  case $lease_seconds in ''|*[!0-9]*|0) say "--lease-seconds must be a whole number of seconds > 0, not '$lease_seconds'"; exit 64 ;; esac

  # ---- the Lease (only with --lock)

  sa_dir=${JOB_GUARD_SA_DIR:-/var/run/secrets/kubernetes.io/serviceaccount}
  holder=${JOB_GUARD_HOLDER:-${POD_NAME:-${HOSTNAME:-}}}
  renew_seconds=${JOB_GUARD_RENEW_SECONDS:-$((lease_seconds / 3))}
  [ "$renew_seconds" -ge 1 ] 2>/dev/null || renew_seconds=1
  tmp=
  lease_rv=

  # Seconds since the epoch of a UTC time YYYY-MM-DDTHH:MM:SS[.frac]Z, by
  # arithmetic (date -d is not POSIX, and busybox's differs from GNU's).
  epoch_of() {
    set -- "$(printf '%s' "$1" | sed -n 's/^\([0-9]\{4\}\)-\([0-9][0-9]\)-\([0-9][0-9]\)T\([0-9][0-9]\):\([0-9][0-9]\):\([0-9][0-9]\).*$/\1 \2 \3 \4 \5 \6/p')"
    [ -n "$1" ] || return 1
    # shellcheck disable=SC2086
    set -- $1
    y=$1 m=${2#0} d=${3#0} H=${4#0} M=${5#0} S=${6#0}
    # days from civil (Howard Hinnant's algorithm)
    [ "$m" -le 2 ] && y=$((y - 1))
    era=$((y / 400))
    yoe=$((y - era * 400))
    if [ "$m" -gt 2 ]; then mp=$((m - 3)); else mp=$((m + 9)); fi
    doy=$(((153 * mp + 2) / 5 + d - 1))
    doe=$((yoe * 365 + yoe / 4 - yoe / 100 + doy))
    echo $(((era * 146097 + doe - 719468) * 86400 + H * 3600 + M * 60 + S))
  }
  now_rfc3339() { date -u +%Y-%m-%dT%H:%M:%S.000000Z; }

  # api METHOD PATH [BODY]: sets $status (HTTP code, 000 on no answer) and $body.
  # The token goes to curl on stdin (--config -), never on its command line.
  api() {
    method=$1 path=$2
    if [ $# -ge 3 ]; then
      printf '%s' "$3" >"$tmp/request"
      set -- --data-binary "@$tmp/request"
    else
      set --
    fi
    token=$(cat "$sa_dir/token" 2>/dev/null) || { say "cannot read $sa_dir/token"; status=000; body=; return; }
    status=$(printf 'header = "Authorization: Bearer %s"\n' "$token" |
      curl --silent --show-error --config - --cacert "$sa_dir/ca.crt" \
        --connect-timeout 5 --max-time 15 \
        --header 'Accept: application/json' --header 'Content-Type: application/json' \
        --request "$method" "$@" \
        --output "$tmp/body" --write-out '%{http_code}' \
        "$api_base/apis/coordination.k8s.io/v1/namespaces/$namespace/leases$path" 2>"$tmp/curl") || status=000
    body=$(cat "$tmp/body" 2>/dev/null)
    : >"$tmp/body"
  }
  # The API server writes compact JSON; these fields never contain a quote.
  field() { printf '%s' "$body" | sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n 1; }
  describe_failure() {
    if [ "$status" = 000 ]; then say "$1: no answer from $api_base: $(cat "$tmp/curl" 2>/dev/null)"
    else say "$1: HTTP $status $(field message)"; fi
  }

  lease_body() { # $1 holder ("" to release) $2 acquireTime $3 renewTime $4 transitions $5 resourceVersion
    printf '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"%s","namespace":"%s"%s},"spec":{%s"leaseDurationSeconds":%s,"acquireTime":"%s","renewTime":"%s","leaseTransitions":%s}}' \
      "$lock" "$namespace" "${5:+,\"resourceVersion\":\"$5\"}" "${1:+\"holderIdentity\":\"$1\",}" "$lease_seconds" "$2" "$3" "$4"
  }

  # Takes the lease, or exits 75 when another holder's is still valid.
  acquire() {
    attempt=0
    while [ $attempt -lt 5 ]; do
      attempt=$((attempt + 1))
      api GET "/$lock"
      now=$(now_rfc3339)
      case $status in
        404)
          api POST "" "$(lease_body "$holder" "$now" "$now" 0)"
          case $status in
            201) lease_rv=$(field resourceVersion); acquired_at=$now; return 0 ;;
            409) continue ;; # another copy created it first: read whose it is
            *) describe_failure "cannot create Lease $namespace/$lock"; exit 69 ;;
          esac ;;
        200)
          current=$(field holderIdentity)
          renewed=$(field renewTime)
          duration=$(field leaseDurationSeconds)
          transitions=$(field leaseTransitions)
          rv=$(field resourceVersion)
          if [ -n "$current" ] && [ "$current" != "$holder" ]; then
            renewed_epoch=$(epoch_of "$renewed") || renewed_epoch=0
            expires=$((renewed_epoch + ${duration:-0}))
            now_epoch=$(epoch_of "$now")
            if [ "$now_epoch" -lt "$expires" ]; then
              say "lock $namespace/$lock is held by $current (renewed $renewed, valid for ${duration}s): another run of this job is still going, or died less than ${duration}s ago; not starting"
              exit 75
            fi
            say "lock $namespace/$lock: the lease of $current expired $((now_epoch - expires))s ago; taking it over"
            transitions=$((${transitions:-0} + 1))
          fi
          api PUT "/$lock" "$(lease_body "$holder" "$now" "$now" "${transitions:-0}" "$rv")"
          case $status in
            200|201) lease_rv=$(field resourceVersion); acquired_at=$now; return 0 ;;
            409) continue ;; # someone changed it since our GET: read it again
            *) describe_failure "cannot take Lease $namespace/$lock"; exit 69 ;;
          esac ;;
        *) describe_failure "cannot read Lease $namespace/$lock"; exit 69 ;;
      esac
    done
    say "lock $namespace/$lock kept changing under us; not starting"
    exit 75
  }

  # Renews every renew_seconds until the guard is gone; runs in the background.
  renew_loop() {
    guard=$1
    nap=
    trap '[ -n "$nap" ] && kill "$nap" 2>/dev/null; exit 0' TERM
    while :; do
      sleep "$renew_seconds" &
      nap=$!
      wait "$nap"
      nap=
      kill -0 "$guard" 2>/dev/null || exit 0
      now=$(now_rfc3339)
      api PUT "/$lock" "$(lease_body "$holder" "$acquired_at" "$now" "${transitions:-0}" "$lease_rv")"
      case $status in
        200) lease_rv=$(field resourceVersion) ;;
        409)
          # Changed by someone else: still ours (an earlier renewal whose answer
          # was lost), or taken over after our renewals failed for too long.
          api GET "/$lock"
          if [ "$status" = 200 ] && [ "$(field holderIdentity)" = "$holder" ]; then
            lease_rv=$(field resourceVersion)
          else
            say "lost lock $namespace/$lock to '$(field holderIdentity)': another copy of this job may be running now"
            exit 0
          fi ;;
        *) describe_failure "cannot renew Lease $namespace/$lock (trying again in ${renew_seconds}s)" ;;
      esac
    done
  }

  release() {
    api GET "/$lock"
    [ "$status" = 200 ] && [ "$(field holderIdentity)" = "$holder" ] || return 0
    now=$(now_rfc3339)
    api PUT "/$lock" "$(lease_body "" "$acquired_at" "$now" "$(field leaseTransitions)" "$(field resourceVersion)")"
    [ "$status" = 200 ] || describe_failure "cannot release Lease $namespace/$lock (it expires in ${lease_seconds}s)"
  }

  renewer=
  cleanup() {
    [ -n "$renewer" ] && kill "$renewer" 2>/dev/null && wait "$renewer" 2>/dev/null
    [ -n "$tmp" ] && rm -rf "$tmp"
  }

  if [ -n "$lock" ]; then
    command -v curl >/dev/null 2>&1 || { say "--lock needs curl in the image (apk add curl / apt-get install curl)"; exit 69; }
    [ -n "$holder" ] || { say "--lock needs the pod's name: set POD_NAME (downward API) or HOSTNAME"; exit 64; }
    namespace=$(cat "$sa_dir/namespace" 2>/dev/null) || { say "--lock: cannot read $sa_dir/namespace (is a service-account token mounted?)"; exit 69; }
    if [ -n "${JOB_GUARD_API:-}" ]; then api_base=$JOB_GUARD_API
    elif [ -n "${KUBERNETES_SERVICE_HOST:-}" ]; then
      case $KUBERNETES_SERVICE_HOST in *:*) api_base="https://[$KUBERNETES_SERVICE_HOST]:${KUBERNETES_SERVICE_PORT:-443}" ;;
        *) api_base="https://$KUBERNETES_SERVICE_HOST:${KUBERNETES_SERVICE_PORT:-443}" ;; esac
    else say "--lock: KUBERNETES_SERVICE_HOST is not set (not in a pod?) and JOB_GUARD_API neither"; exit 69; fi
    tmp=$(mktemp -d) || exit 69
    acquire
    say "lock $namespace/$lock taken by $holder for ${lease_seconds}s, renewed every ${renew_seconds}s"
  fi

  # ---- the job

  [ -n "$lock" ] && { renew_loop $$ & renewer=$!; }

  # A shell without job control starts background commands with SIGINT and
  # SIGQUIT ignored (POSIX), and dash and ash cannot undo that in the child:
  # restore the default so that the job can be stopped by them too (GNU env
  # 8.31+, or bash). Probed before the last look at $pending, so that no command
  # runs between that look and the fork.
  if env --default-signal=INT true 2>/dev/null; then launcher=env
  elif [ -n "${BASH_VERSION:-}" ]; then launcher=bash
  else launcher=plain; fi

  # A forked shell keeps the parent's signal handlers until it resets them, and
  # a signal that comes in that window is swallowed: the job would never see it
  # (dash loses about one early SIGTERM in thirty). So the child says "ready"
  # through a FIFO once its handlers are the defaults, and only then are
  # signals forwarded. Without a writable TMPDIR (readOnlyRootFilesystem without
  # an emptyDir on /tmp) the guard goes without the handshake.
  handshake=
  if fifo_dir=$(mktemp -d 2>/dev/null) && mkfifo "$fifo_dir/ready" 2>/dev/null; then
    exec 3<>"$fifo_dir/ready"
    handshake=1
  fi
  [ -n "${fifo_dir:-}" ] && rm -rf "$fifo_dir"

  if [ -n "$pending" ]; then
    say "SIG$pending before the job started: not starting it"
    [ -n "$renewer" ] && kill "$renewer" 2>/dev/null && wait "$renewer" 2>/dev/null
    renewer=
    [ -n "$lock" ] && release
    cleanup
    exit $((128 + $(signal_number "$pending")))
  fi
  if [ -n "$handshake" ]; then
    case $launcher in
      env) (echo >&3; exec env --default-signal=INT,QUIT -- "$@" 3>&-) & ;;
      bash) (trap - INT QUIT; echo >&3; exec "$@" 3>&-) & ;;
      *) (echo >&3; exec "$@" 3>&-) & ;;
    esac
    job=$!
    until read -r _ <&3; do :; done
    exec 3>&-
  else
    case $launcher in
      env) env --default-signal=INT,QUIT -- "$@" & ;;
      bash) (trap - INT QUIT; exec "$@") & ;;
      *) "$@" & ;;
    esac
    job=$!
  fi
  # busybox ash, or dash without GNU env ("plain"): programs that install their
  # own handlers (nginx, the JVM, Go, Node, Python's signal.signal) still get
  # SIGQUIT and SIGINT; a shell-script job can only trap SIGTERM there.
  ready=1
  [ -n "$pending" ] && kill -s "$pending" "$job" 2>/dev/null

  # wait returns early (128+n) when a trapped signal arrives: wait again. The
  # shell may already have collected the job's status during the interrupted
  # wait (the job reacted to the signal at once): the next wait then returns
  # it; and when the job is long gone and reported, wait says 127, and the code
  # we have is the job's own (it died of that signal).
  trapped=
  wait "$job"
  code=$?
  while [ -n "$trapped" ] && [ "$code" -gt 128 ]; do
    trapped=
    wait "$job"
    again=$?
    [ "$again" -eq 127 ] && break
    code=$again
  done

  if [ -n "$lock" ]; then
    [ -n "$renewer" ] && kill "$renewer" 2>/dev/null && wait "$renewer" 2>/dev/null
    renewer=
    # 130, 131, 143: stopped by SIGINT, SIGQUIT, SIGTERM, as asked. Any other
    # death by a signal (137 SIGKILL from the OOM killer, 139 SIGSEGV…) is not a
    # clean end: the lease stays until it expires.
    case $code in
      129|13[2-9]|1[4-9][0-9]|2[0-9][0-9])
        say "job killed by signal $((code - 128)): keeping lock $namespace/$lock until it expires (${lease_seconds}s)" ;;
      *) release ;;
    esac
  fi
  cleanup
  exit "$code"
}

trap 'on_signal TERM' TERM
trap 'on_signal QUIT' QUIT
trap 'on_signal INT' INT
main "$@"
